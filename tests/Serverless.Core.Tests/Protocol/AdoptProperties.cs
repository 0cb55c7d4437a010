using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Serverless.Core.Protocol;
using static Serverless.Core.Tests.Protocol.Tx;

namespace Serverless.Core.Tests.Protocol;

/// <summary>
/// <see cref="Coordinator.Adopt"/> for any proposal a run can make (the state of the step that first decides) and any
/// decision record, also ones no real run writes: the record wins, and phase 2 is carried out by it.
/// </summary>
public sealed class AdoptProperties
{
    private enum Closer
    {
        Deadline,
        AbortRequest,
    }

    [Property(MaxTest = 3000)]
    public Property Adopt_OfAnyRecord_DecidesAsRecordedAndCommitsOnlyYesVoters() =>
        Prop.ForAll(Cases().ToArbitrary(), c =>
        {
            var (proposed, record) = c;
            var now = proposed.DecidedAt!.Value;

            var step = Coordinator.Adopt(proposed, record, now, Options);

            Assert.Equal(record.Decision, step.State.Decision);
            foreach (var command in step.Commands)
            {
                switch (command)
                {
                    case SendCommit commit:
                        Assert.Equal(Vote.Yes, step.State.Branches[commit.Branch].Vote);
                        Assert.Equal(Decision.Commit, record.Decision);
                        break;
                    case SendRollback rollback:
                        Assert.Contains(step.State.Branches[rollback.Branch].Vote, new Vote?[] { Vote.Yes, null });
                        Assert.Equal(Decision.Abort, record.Decision);
                        break;
                    case SchedulePhase2Retry:
                        break;
                    default:
                        Assert.Fail($"unexpected command {command}");
                        break;
                }
            }
        });

    [Property(MaxTest = 3000)]
    public Property Adopt_OfAnyRecord_IsADuplicateWhenItAgreesAndOtherwiseOwesPhase2ToExactlyTheBranchesThatMayHoldAReservation() =>
        Prop.ForAll(Cases().ToArbitrary(), c =>
        {
            var (proposed, record) = c;
            var now = proposed.DecidedAt!.Value;

            var step = Coordinator.Adopt(proposed, record, now, Options);

            if (proposed.Decision == record.Decision)
            {
                AssertUnchanged(step, proposed, StepKind.Duplicate);
                Assert.Empty(step.Commands);
                return;
            }

            Assert.Equal(StepKind.Applied, step.Kind);
            Assert.Equal(record.Reason, step.State.Reason);
            for (var i = 0; i < proposed.Branches.Length; i++)
            {
                var expected = proposed.Branches[i].Vote ?? (i < record.Votes.Length ? record.Votes[i] : null);
                Assert.Equal(expected, step.State.Branches[i].Vote);
            }

            var owing = step.State.Branches.Where(b => b.OwesAcknowledgement(record.Decision)).Select(b => b.Index);
            var sent = step.Commands.Select(command => command switch { SendCommit s => s.Branch, SendRollback r => r.Branch, _ => -1 }).Where(b => b >= 0);
            Assert.Equal(owing, sent);
            Assert.Equal(!owing.Any(), step.State.Status.IsTerminal());
        });

    [Property(MaxTest = 3000)]
    public Property Adopt_ThenAcknowledgingEveryBranchThatOwesPhase2_EndsTheTransactionWithTheRecordedDecision() =>
        Prop.ForAll(Cases().ToArbitrary(), c =>
        {
            var (proposed, record) = c;
            var now = proposed.DecidedAt!.Value;
            var state = Coordinator.Adopt(proposed, record, now, Options).State;
            var outcome = record.Decision == Decision.Commit ? BranchOutcome.Committed : BranchOutcome.RolledBack;

            foreach (var branch in state.Branches.Where(b => b.OwesAcknowledgement(record.Decision)))
            {
                var step = Coordinator.Apply(state, new BranchAcknowledged(branch.Index, outcome), now, Options);
                Assert.Equal(StepKind.Applied, step.Kind);
                state = step.State;
            }

            Assert.Equal(record.Decision, state.Decision);
            Assert.Equal(record.Decision == Decision.Commit ? TransactionStatus.Committed : TransactionStatus.Aborted, state.Status);
        });

    /// <summary>A proposal a run can make, with any record of the same number of branches, give or take one.</summary>
    private static Gen<(TransactionState Proposed, DecisionRecord Record)> Cases() =>
        from count in Gen.Choose(1, 5)
        from votes in Gen.Elements<Vote?>(Vote.Yes, Vote.Yes, Vote.Yes, Vote.ReadOnly, Vote.No, null).ArrayOf(count)
        from order in Gen.Shuffle(Enumerable.Range(0, count))
        from closer in Gen.Elements(Enum.GetValues<Closer>())
        from decision in Gen.Elements(Enum.GetValues<Decision>())
        from reason in Gen.Elements<string?>(null, "abort requested", "presumed abort: the orchestration is missing")
        from recordedVotes in Gen.Elements<Vote?>(Vote.Yes, Vote.ReadOnly, Vote.No, null).ArrayOf(count - 1 + (count % 3))
        select (Propose(count, votes, order, closer), new DecisionRecord(decision, reason, T0, [.. recordedVotes]));

    /// <summary>Applies the votes in <paramref name="order"/> until one decides; if none does, the closer decides.</summary>
    private static TransactionState Propose(int count, Vote?[] votes, int[] order, Closer closer)
    {
        var state = New([.. Enumerable.Range(0, count).Select(i => $"p{i}")]);
        var now = Now;
        foreach (var branch in order)
        {
            if (votes[branch] is { } vote)
            {
                now = now.AddMilliseconds(10);
                var step = Coordinator.Apply(state, new VoteCast(branch, vote, vote == Vote.No ? "refused" : null), now, Options);
                Assert.Equal(StepKind.Applied, step.Kind);
                state = step.State;
                if (state.Decision is not null)
                {
                    return state;
                }
            }
        }

        CoordinatorEvent closing = closer switch
        {
            Closer.Deadline => new VoteDeadlinePassed(),
            _ => new AbortRequested(),
        };
        var decided = Coordinator.Apply(state, closing, state.Deadline, Options).State;
        Assert.NotNull(decided.Decision);
        return decided;
    }
}
