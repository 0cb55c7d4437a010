using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Participants;

/// <summary>The one in-doubt loop against a resource manager in memory: what it asks, finishes, counts and reports.</summary>
public sealed class InDoubtRecoveryTests
{
    private static readonly DateTimeOffset Bound = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly FakeResourceManager _manager = new();
    private readonly List<(BranchKey Branch, BranchOutcome Outcome)> _finished = [];
    private readonly List<(BranchKey Branch, Exception Error)> _failed = [];

    [Fact]
    public async Task EachBranch_IsFinishedByItsDecision_WithItsOwnOperation_AndReportedFinished()
    {
        var (commit, abort) = (_manager.Prepare("tx-c", "op-c"), _manager.Prepare("tx-a", "op-a"));

        var result = await RecoverAsync(b => b.TransactionId == "tx-c" ? Decision.Commit : Decision.Abort);

        Assert.Equal(new RecoveryResult(Committed: 1, RolledBack: 1, Undecided: 0, Failed: 0), result);
        Assert.Equal([("commit", commit, "op-c"), ("rollback", abort, "op-a")], _manager.Steps);
        Assert.Equal([(commit, BranchOutcome.Committed), (abort, BranchOutcome.RolledBack)], _finished);
        Assert.Empty(_failed);
    }

    [Fact]
    public async Task AnUndecidedBranch_StaysPrepared_AndIsNeitherFinishedNorReported()
    {
        _manager.Prepare("tx-open", "op");

        var result = await RecoverAsync(_ => null);

        Assert.Equal(new RecoveryResult(0, 0, 1, 0), result);
        Assert.Empty(_manager.Steps);
        Assert.Empty(_finished);
        Assert.Empty(_failed);
    }

    [Fact]
    public async Task AFailingInquiry_IsCountedAndReported_AndThePassGoesOn_AndTheNextPassFinishesTheBranch()
    {
        var (first, second) = (_manager.Prepare("tx-1", "op-1"), _manager.Prepare("tx-2", "op-2"));
        var unreachable = new InvalidOperationException("coordinator unreachable");

        var failing = await RecoverAsync(b => b == first ? throw unreachable : Decision.Commit);

        Assert.Equal(new RecoveryResult(1, 0, 0, 1), failing);
        Assert.Equal([(first, (Exception)unreachable)], _failed);
        Assert.Equal([("commit", second, "op-2")], _manager.Steps);

        var next = await RecoverAsync(_ => Decision.Commit);
        Assert.Equal(new RecoveryResult(1, 0, 0, 0), next);
        Assert.Equal(("commit", first, "op-1"), _manager.Steps[^1]);
    }

    [Fact]
    public async Task AFailingStep_IsCountedFailed_AndNotReportedFinished()
    {
        var branch = _manager.Prepare("tx-broken", "op");
        _manager.FailOn = branch;

        var result = await RecoverAsync(_ => Decision.Abort);

        Assert.Equal(new RecoveryResult(0, 0, 0, 1), result);
        Assert.Empty(_finished);
        Assert.IsType<TimeoutException>(Assert.Single(_failed).Error);
    }

    [Fact]
    public async Task AFailingReport_IsCountedFailed_AfterTheStepIsDone()
    {
        var branch = _manager.Prepare("tx-1", "op");

        var result = await InDoubtRecovery.RecoverAsync(_manager, _manager, Bound, 10, (_, _) => Task.FromResult<Decision?>(Decision.Commit),
            finished: (_, _, _) => throw new InvalidOperationException("orchestration unreachable"),
            failed: (b, ex) => _failed.Add((b.Branch, ex)));

        Assert.Equal(new RecoveryResult(0, 0, 0, 1), result);
        Assert.Equal([("commit", branch, "op")], _manager.Steps);
        Assert.Equal(branch, Assert.Single(_failed).Branch);
    }

    [Fact]
    public async Task ABranchWithoutItsOperation_IsNotAskedAbout_NorFinished_ButCountedFailedAndReported()
    {
        var branch = _manager.Prepare("tx-big", operation: null);
        var asked = 0;

        var result = await RecoverAsync(_ =>
        {
            asked++;
            return Decision.Abort;
        });

        Assert.Equal(new RecoveryResult(0, 0, 0, 1), result);
        Assert.Equal(0, asked);
        Assert.Empty(_manager.Steps);
        var (reported, error) = Assert.Single(_failed);
        Assert.Equal(branch, reported);
        Assert.IsType<InvalidOperationException>(error);
    }

    [Fact]
    public async Task TheBoundAndTheLimit_AreTheSourcesToApply()
    {
        _manager.Prepare("tx-1", "op");

        await RecoverAsync(_ => null);

        Assert.Equal((Bound, 10), _manager.Listed);
    }

    [Fact]
    public async Task Cancellation_EndsThePass_WithoutCountingTheBranchFailed()
    {
        _manager.Prepare("tx-1", "op");
        _manager.Prepare("tx-2", "op");
        using var cancel = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => InDoubtRecovery.RecoverAsync(_manager, _manager, Bound, 10,
            async (_, ct) =>
            {
                await cancel.CancelAsync();
                ct.ThrowIfCancellationRequested();
                return Decision.Commit;
            },
            failed: (b, ex) => _failed.Add((b.Branch, ex)),
            cancellationToken: cancel.Token));

        Assert.Empty(_failed);
        Assert.Empty(_manager.Steps);
    }

    private Task<RecoveryResult> RecoverAsync(Func<BranchKey, Decision?> decide) =>
        InDoubtRecovery.RecoverAsync(_manager, _manager, Bound, 10, (b, _) => Task.FromResult(decide(b.Branch)),
            (b, outcome, _) =>
            {
                _finished.Add((b.Branch, outcome));
                return Task.CompletedTask;
            },
            (b, ex) => _failed.Add((b.Branch, ex)));

    /// <summary>Prepared branches in a list; commit and rollback note what they were asked and finish the branch.</summary>
    private sealed class FakeResourceManager : IResourceManager, IPreparedBranchSource
    {
        private readonly List<PreparedBranch> _prepared = [];

        public List<(string Step, BranchKey Branch, string Operation)> Steps { get; } = [];

        public (DateTimeOffset PreparedBefore, int Max) Listed { get; private set; }

        public BranchKey? FailOn { get; set; }

        public BranchKey Prepare(string transactionId, string? operation)
        {
            var branch = new BranchKey(transactionId, 0);
            _prepared.Add(new PreparedBranch(branch, operation, Bound.AddMinutes(-1)));
            return branch;
        }

        public Task<IReadOnlyList<PreparedBranch>> ListPreparedAsync(DateTimeOffset preparedBefore, int max, CancellationToken cancellationToken = default)
        {
            Listed = (preparedBefore, max);
            return Task.FromResult<IReadOnlyList<PreparedBranch>>([.. _prepared]);
        }

        public Task<PrepareResult> PrepareAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("recovery never prepares");

        public Task CommitAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) => Finish("commit", branch, operation);

        public Task RollbackAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) => Finish("rollback", branch, operation);

        private Task Finish(string step, BranchKey branch, string operation)
        {
            if (branch == FailOn)
            {
                throw new TimeoutException("the database did not answer");
            }

            Steps.Add((step, branch, operation));
            _prepared.RemoveAll(p => p.Branch == branch);
            return Task.CompletedTask;
        }
    }
}
