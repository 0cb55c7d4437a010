using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Participants.Postgres.Tests;

/// <summary>In-doubt branches after a restart: listed, asked about and finished by the one in-doubt loop (<see cref="InDoubtRecovery"/>).</summary>
public sealed class RecoveryTests(PostgresServer server) : ParticipantTest(server)
{
    /// <summary>Prepares a branch in a process that then "dies": its connections are closed.</summary>
    private async Task<(BranchKey Branch, string OrderId)> PrepareInAProcessThatDiesAsync()
    {
        var branch = NewBranch();
        var orderId = NewOrderId();
        var dataSource = NewDataSource();
        var doomed = new OrdersParticipant(dataSource, Participant, Options);
        Assert.Equal(Vote.Yes, (await doomed.ResourceManager.PrepareAsync(branch, PlaceOperation(orderId))).Vote);
        await dataSource.DisposeAsync();
        return (branch, orderId);
    }

    /// <summary>The participant as a restarted process sees it: a new instance on new connections.</summary>
    private OrdersParticipant Restarted() => new(NewDataSource(), Participant, Options);

    /// <summary>One pass of the in-doubt loop over <paramref name="manager"/>'s branches prepared before <paramref name="preparedBefore"/> (any, by default).</summary>
    private static Task<RecoveryResult> RecoverAsync(PostgresResourceManager manager, Func<BranchKey, Decision?> decide, DateTimeOffset? preparedBefore = null) =>
        InDoubtRecovery.RecoverAsync(manager, manager, preparedBefore ?? DateTimeOffset.MaxValue, 100, (b, _) => Task.FromResult(decide(b.Branch)));

    [Fact]
    public async Task Recover_AfterARestart_CommitsABranchDecidedCommit()
    {
        var (branch, orderId) = await PrepareInAProcessThatDiesAsync();
        var restarted = Restarted();

        var inDoubt = Assert.Single(await restarted.ResourceManager.ListPreparedAsync(DateTimeOffset.MaxValue, 10));
        Assert.Equal((branch, "{}"), (inDoubt.Branch, inDoubt.Operation));
        Assert.True(inDoubt.PreparedAt <= DateTimeOffset.UtcNow.AddSeconds(5));

        var asked = new List<BranchKey>();
        var result = await RecoverAsync(restarted.ResourceManager, b =>
        {
            asked.Add(b);
            return Decision.Commit;
        });

        Assert.Equal(new RecoveryResult(1, 0, 0, 0), result);
        Assert.Equal([branch], asked);
        Assert.Equal(branch.TransactionId, (await restarted.GetOrderAsync(orderId))!.TransactionId);
        Assert.Empty(await PreparedGidsAsync());
    }

    [Fact]
    public async Task Recover_AfterARestart_RollsBackABranchDecidedAbort()
    {
        var (branch, orderId) = await PrepareInAProcessThatDiesAsync();
        var restarted = Restarted();

        var result = await RecoverAsync(restarted.ResourceManager, _ => Decision.Abort);

        Assert.Equal(new RecoveryResult(0, 1, 0, 0), result);
        Assert.Null(await restarted.GetOrderAsync(orderId));
        Assert.Equal(BranchPhase.RolledBack, (await restarted.ResourceManager.GetBranchAsync(branch))!.Phase);
        Assert.Empty(await PreparedGidsAsync());
    }

    [Fact]
    public async Task Recover_PresumesAbort_ForATransactionTheCoordinatorDoesNotKnow()
    {
        var (known, knownOrder) = await PrepareInAProcessThatDiesAsync();
        var (unknown, unknownOrder) = await PrepareInAProcessThatDiesAsync();
        var decisions = new Dictionary<string, Decision> { [known.TransactionId] = Decision.Commit };
        var restarted = Restarted();

        // The coordinator's answer under presumed abort (I4): no record of the transaction means Abort.
        var result = await RecoverAsync(restarted.ResourceManager, b => decisions.TryGetValue(b.TransactionId, out var d) ? d : Decision.Abort);

        Assert.Equal(new RecoveryResult(1, 1, 0, 0), result);
        Assert.NotNull(await restarted.GetOrderAsync(knownOrder));
        Assert.Null(await restarted.GetOrderAsync(unknownOrder));
        Assert.Equal(BranchPhase.RolledBack, (await restarted.ResourceManager.GetBranchAsync(unknown))!.Phase);
    }

    [Fact]
    public async Task Recover_LeavesAnUndecidedBranchPrepared()
    {
        var (branch, orderId) = await PrepareInAProcessThatDiesAsync();
        var restarted = Restarted();

        var result = await RecoverAsync(restarted.ResourceManager, _ => null);

        Assert.Equal(new RecoveryResult(0, 0, 1, 0), result);
        Assert.Equal([restarted.ResourceManager.GlobalTransactionIdOf(branch)], await PreparedGidsAsync());
        await restarted.ResourceManager.CommitAsync(branch, PlaceOperation(orderId));
        Assert.NotNull(await restarted.GetOrderAsync(orderId));
    }

    [Fact]
    public async Task Recover_CountsAFailedInquiry_AndLeavesTheBranchForTheNextPass()
    {
        var (branch, orderId) = await PrepareInAProcessThatDiesAsync();
        var restarted = Restarted();

        var failed = await RecoverAsync(restarted.ResourceManager, _ => throw new HttpRequestException("coordinator unreachable"));
        Assert.Equal(new RecoveryResult(0, 0, 0, 1), failed);
        Assert.Single(await PreparedGidsAsync());

        var next = await RecoverAsync(restarted.ResourceManager, _ => Decision.Abort);
        Assert.Equal(new RecoveryResult(0, 1, 0, 0), next);
        Assert.Null(await restarted.GetOrderAsync(orderId));
        Assert.Equal(BranchPhase.RolledBack, (await restarted.ResourceManager.GetBranchAsync(branch))!.Phase);
    }

    [Fact]
    public async Task ListPrepared_LeavesOutBranchesYoungerThanTheBound()
    {
        var (branch, orderId) = await PrepareInAProcessThatDiesAsync();
        var restarted = Restarted();
        var anHourAgo = DateTimeOffset.UtcNow.AddHours(-1);

        Assert.Empty(await restarted.ResourceManager.ListPreparedAsync(anHourAgo, 10));
        Assert.Equal(new RecoveryResult(0, 0, 0, 0), await RecoverAsync(restarted.ResourceManager, _ => Decision.Commit, anHourAgo));

        await restarted.ResourceManager.RollbackAsync(branch, PlaceOperation(orderId));
        Assert.Empty(await restarted.ResourceManager.ListPreparedAsync(DateTimeOffset.MaxValue, 10));
    }

    [Fact]
    public async Task CrashBetweenPrepareAndVote_TheRedeliveredPrepareVotesYesAgain_WithoutASecondPrepare()
    {
        // The first process prepared, then died before its vote left; the queue redelivers the prepare.
        var (branch, orderId) = await PrepareInAProcessThatDiesAsync();
        var restarted = Restarted();

        var vote = await restarted.ResourceManager.PrepareAsync(branch, PlaceOperation(orderId));

        Assert.Equal(PrepareResult.Yes, vote);
        Assert.Equal([restarted.ResourceManager.GlobalTransactionIdOf(branch)], await PreparedGidsAsync());
        await restarted.ResourceManager.CommitAsync(branch, PlaceOperation(orderId));
        Assert.Equal(1, await CountOrdersAsync(orderId));
        Assert.Empty(await PreparedGidsAsync());
    }

    [Fact]
    public async Task PhaseTwoCommands_AfterARestart_FinishTheBranch()
    {
        var (committed, committedOrder) = await PrepareInAProcessThatDiesAsync();
        var (rolledBack, rolledBackOrder) = await PrepareInAProcessThatDiesAsync();
        var restarted = Restarted();

        await restarted.ResourceManager.CommitAsync(committed, PlaceOperation(committedOrder));
        await restarted.ResourceManager.RollbackAsync(rolledBack, PlaceOperation(rolledBackOrder));

        Assert.NotNull(await restarted.GetOrderAsync(committedOrder));
        Assert.Null(await restarted.GetOrderAsync(rolledBackOrder));
        Assert.Empty(await PreparedGidsAsync());
    }
}
