using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Participants;

public sealed class ParticipantProtocolTests
{
    private static readonly BranchRecord Prepared = new(BranchPhase.Prepared, Vote.Yes);
    private static readonly BranchRecord PreparedReadOnly = new(BranchPhase.Prepared, Vote.ReadOnly);
    private static readonly BranchRecord Refused = new(BranchPhase.Refused, Vote.No, "insufficient funds");
    private static readonly BranchRecord Committed = new(BranchPhase.Committed, Vote.Yes);
    private static readonly BranchRecord RolledBack = new(BranchPhase.RolledBack, Vote.Yes);
    private static readonly BranchRecord RolledBackBeforePrepare = new(BranchPhase.RolledBack, null, ParticipantProtocol.RolledBackBeforePrepare);

    public static TheoryData<string, BranchAction, BranchAction, BranchAction> DecisionTable => new()
    {
        // record,                  prepare,                   commit,                    rollback
        { "none",                   BranchAction.Execute,      BranchAction.Violation,    BranchAction.RecordOnly },
        { "prepared",               BranchAction.AlreadyDone,  BranchAction.Execute,      BranchAction.Execute },
        { "prepared read-only",     BranchAction.AlreadyDone,  BranchAction.Execute,      BranchAction.Execute },
        { "refused",                BranchAction.AlreadyDone,  BranchAction.Violation,    BranchAction.AlreadyDone },
        { "committed",              BranchAction.AlreadyDone,  BranchAction.AlreadyDone,  BranchAction.Violation },
        { "rolled back",            BranchAction.AlreadyDone,  BranchAction.Violation,    BranchAction.AlreadyDone },
        { "rolled back unprepared", BranchAction.AlreadyDone,  BranchAction.Violation,    BranchAction.AlreadyDone },
    };

    [Theory]
    [MemberData(nameof(DecisionTable))]
    public void Commands_GivenTheBranchRecord_FollowTheDecisionTable(string record, BranchAction prepare, BranchAction commit, BranchAction rollback)
    {
        var r = Record(record);

        Assert.Equal(prepare, ParticipantProtocol.OnPrepare(r));
        Assert.Equal(commit, ParticipantProtocol.OnCommit(r));
        Assert.Equal(rollback, ParticipantProtocol.OnRollback(r));
    }

    [Fact]
    public void Prepare_AfterARollbackOfAnUnpreparedBranch_VotesNoAndReservesNothing()
    {
        Assert.Equal(BranchAction.RecordOnly, ParticipantProtocol.OnRollback(null));

        Assert.Equal(BranchAction.AlreadyDone, ParticipantProtocol.OnPrepare(RolledBackBeforePrepare));
        Assert.Equal(PrepareResult.No(ParticipantProtocol.RolledBackBeforePrepare), ParticipantProtocol.RepeatVote(RolledBackBeforePrepare));
    }

    [Fact]
    public void RepeatVote_AfterARecordWithoutAVote_VotesNoEvenIfTheReasonWasLost()
    {
        var result = ParticipantProtocol.RepeatVote(new BranchRecord(BranchPhase.RolledBack, null));

        Assert.Equal(Vote.No, result.Vote);
        Assert.Equal(ParticipantProtocol.RolledBackBeforePrepare, result.Reason);
    }

    [Fact]
    public void RepeatVote_AfterAYes_RepeatsTheYesInEveryLaterPhase()
    {
        foreach (var record in new[] { Prepared, Committed, RolledBack })
        {
            Assert.Equal(new PrepareResult(Vote.Yes), ParticipantProtocol.RepeatVote(record));
        }
    }

    [Fact]
    public void RepeatVote_AfterANo_RepeatsTheNoWithItsReason()
    {
        Assert.Equal(PrepareResult.No("insufficient funds"), ParticipantProtocol.RepeatVote(Refused));
    }

    [Fact]
    public void RepeatVote_AfterAReadOnly_RepeatsTheReadOnly()
    {
        Assert.Equal(new PrepareResult(Vote.ReadOnly), ParticipantProtocol.RepeatVote(PreparedReadOnly));
    }

    [Fact]
    public void RepeatVote_WithoutARecord_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => ParticipantProtocol.RepeatVote(null!));
    }

    [Fact]
    public void PrepareResult_Helpers_BuildTheExpectedVotes()
    {
        Assert.Equal(new PrepareResult(Vote.Yes, null), PrepareResult.Yes);
        Assert.Equal(new PrepareResult(Vote.No, "why"), PrepareResult.No("why"));
    }

    [Fact]
    public void BranchKey_PrintsAsTransactionSlashBranch()
    {
        Assert.Equal("order-1001/3", new BranchKey("order-1001", 3).ToString());
    }

    private static BranchRecord? Record(string name) => name switch
    {
        "none" => null,
        "prepared" => Prepared,
        "prepared read-only" => PreparedReadOnly,
        "refused" => Refused,
        "committed" => Committed,
        "rolled back" => RolledBack,
        "rolled back unprepared" => RolledBackBeforePrepare,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };
}
