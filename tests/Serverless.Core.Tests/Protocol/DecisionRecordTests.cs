using Serverless.Core.Protocol;
using static Serverless.Core.Tests.Protocol.Tx;

namespace Serverless.Core.Tests.Protocol;

public sealed class DecisionRecordTests
{
    [Fact]
    public void Of_ACommitDecidedOnTheLastVote_CarriesTheDecisionTimeAndEveryVoteInBranchOrder()
    {
        var state = New("bank", "inventory", "bank").Then(new VoteCast(2, Vote.Yes)).Then(new VoteCast(1, Vote.ReadOnly))
            .Then(new VoteCast(0, Vote.Yes), Now.AddSeconds(3));

        var record = DecisionRecord.Of(state);

        Assert.Equal(Decision.Commit, record.Decision);
        Assert.Null(record.Reason);
        Assert.Equal(Now.AddSeconds(3), record.DecidedAt);
        Assert.Equal([Vote.Yes, Vote.ReadOnly, Vote.Yes], record.Votes.AsEnumerable());
    }

    [Fact]
    public void Of_AnAbortByTheDeadline_CarriesItsReasonAndNoVoteForTheBranchesThatDidNotVote()
    {
        var state = New("bank", "inventory").Then(new VoteCast(0, Vote.Yes)).AfterDeadline();

        var record = DecisionRecord.Of(state);

        Assert.Equal(Decision.Abort, record.Decision);
        Assert.Equal("vote deadline passed without a vote from 'inventory'", record.Reason);
        Assert.Equal(state.Deadline, record.DecidedAt);
        Assert.Equal([Vote.Yes, null], record.Votes.AsEnumerable());
    }

    [Fact]
    public void Of_AnAbortByANoVote_CarriesTheNoVoteReason()
    {
        var state = New("inventory", "bank").Then(new VoteCast(1, Vote.No, "insufficient funds in 'alice'"));

        var record = DecisionRecord.Of(state);

        Assert.Equal(Decision.Abort, record.Decision);
        Assert.Equal(Coordinator.NoVoteReason("bank", "insufficient funds in 'alice'"), record.Reason);
        Assert.Equal([null, Vote.No], record.Votes.AsEnumerable());
    }

    [Fact]
    public void Of_AFinishedTransaction_StillCarriesItsDecision()
    {
        var state = New("bank").Then(new VoteCast(0, Vote.Yes)).Then(new BranchAcknowledged(0, BranchOutcome.Committed));
        Assert.Equal(TransactionStatus.Committed, state.Status);

        Assert.Equal(Decision.Commit, DecisionRecord.Of(state).Decision);
    }

    [Fact]
    public void Of_AStateWithADecisionButNoDecisionTime_UsesItsCreationTime()
    {
        var state = New("bank") with { Status = TransactionStatus.Aborting, Decision = Decision.Abort, Reason = "x" };

        Assert.Equal(T0, DecisionRecord.Of(state).DecidedAt);
    }

    [Fact]
    public void Of_AnUndecidedState_ThrowsNamingTheArgument()
    {
        var state = New("bank", "inventory").Then(new VoteCast(0, Vote.Yes));

        var error = Assert.Throws<ArgumentException>(() => DecisionRecord.Of(state));

        Assert.Equal("decided", error.ParamName);
    }

    [Fact]
    public void Of_Null_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => DecisionRecord.Of(null!));
    }
}
