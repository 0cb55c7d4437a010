using Serverless.Core.Protocol;
using static Serverless.Core.Tests.Protocol.Tx;

namespace Serverless.Core.Tests.Protocol;

/// <summary>Each participant signs with its own key: a reply counts only for the branches of the participant that sent it.</summary>
public sealed class CoordinatorSenderTests
{
    [Fact]
    public void Vote_FromTheBranchsOwnParticipant_IsRecorded()
    {
        var step = New("bank", "loyalty").Apply(new VoteCast(1, Vote.Yes, Participant: "loyalty"));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(Vote.Yes, step.State.Branches[1].Vote);
    }

    [Fact]
    public void Vote_FromAnotherParticipant_IsRejectedAndChangesNothing()
    {
        var state = New("bank", "loyalty");

        AssertRejected(state.Apply(new VoteCast(0, Vote.Yes, Participant: "loyalty")), state, "branch 0 of 'bank' came from 'loyalty'");
        AssertRejected(state.Apply(new VoteCast(0, Vote.No, "forged", Participant: "loyalty")), state, "came from 'loyalty'");
    }

    [Fact]
    public void Acknowledgement_FromAnotherParticipant_IsRejected_AndTheBranchStillOwesIt()
    {
        var state = New("bank", "loyalty").Votes(Vote.Yes, Vote.Yes);

        AssertRejected(state.Apply(new BranchAcknowledged(0, BranchOutcome.Committed, "loyalty")), state, "branch 0 of 'bank' came from 'loyalty'");
        var step = state.Apply(new BranchAcknowledged(0, BranchOutcome.Committed, "bank"));
        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(BranchOutcome.Committed, step.State.Branches[0].Outcome);
    }

    [Fact]
    public void Reply_ThatNamesNoSender_IsThisAppsOwnAndCounts()
    {
        var step = New("bank").Apply(new VoteCast(0, Vote.Yes));

        Assert.Equal(Decision.Commit, step.State.Decision);
    }
}
