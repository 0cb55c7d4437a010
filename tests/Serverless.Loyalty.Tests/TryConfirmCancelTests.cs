using System.Net;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Loyalty.Tests;

/// <summary>Try, Confirm and Cancel under the participant's decision table; each test uses a transaction and a customer of its own.</summary>
public sealed class TryConfirmCancelTests(LoyaltyFixture fixture) : IClassFixture<LoyaltyFixture>
{
    private LoyaltyServer Server => fixture.Server;

    [Fact]
    public async Task Try_ReservesThePointsAsPending_AndVotesYes()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());

        var answer = await Server.TryAsync(tx, 0, Wire.Award(customer, 10));

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var vote = answer.Reply();
        Assert.Equal(MessageKind.Vote, vote.Kind);
        Assert.Equal(Vote.Yes, vote.Vote);
        Assert.Equal((0, 10), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task Try_ThenConfirm_MovesThePendingPointsToPoints()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 25);

        await Server.TryAsync(tx, 0, award);
        var answer = await Server.ConfirmAsync(tx, 0, award);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var ack = answer.Reply();
        Assert.Equal(MessageKind.Ack, ack.Kind);
        Assert.Equal(BranchOutcome.Committed, ack.Outcome);
        Assert.Equal((25, 0), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task Try_ThenCancel_DropsThePendingPoints()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 7);

        await Server.TryAsync(tx, 0, award);
        var answer = await Server.CancelAsync(tx, 0, award);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(BranchOutcome.RolledBack, answer.Reply().Outcome);
        Assert.Equal((0, 0), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task TwoAwards_ToOneCustomer_AddUp()
    {
        var (first, second, customer) = (Wire.NewTx(), Wire.NewTx(), Wire.NewCustomer());

        await Server.TryAsync(first, 0, Wire.Award(customer, 10));
        await Server.TryAsync(second, 2, Wire.Award(customer, 5));
        await Server.ConfirmAsync(first, 0, Wire.Award(customer, 10));

        Assert.Equal((10, 5), await Server.BalanceAsync(customer));
        await Server.CancelAsync(second, 2, Wire.Award(customer, 5));
        Assert.Equal((10, 0), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task Replies_AreVerifiedByTheCoreCodec_AndNameLoyaltyAndTheCommandsBranch()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 3);

        var replies = new[]
        {
            (await Server.TryAsync(tx, 5, award)).Reply(),
            (await Server.ConfirmAsync(tx, 5, award)).Reply(),
            (await Server.TryAsync(tx, 6, Wire.Award(customer, 0))).Reply(),
            (await Server.CancelAsync(tx, 7, award)).Reply(),
        };

        Assert.All(replies, reply =>
        {
            Assert.Equal(tx, reply.TransactionId);
            Assert.Equal("loyalty", reply.Participant);
            Assert.Null(reply.Operation);
        });
        Assert.Equal([5, 5, 6, 7], replies.Select(r => r.Branch));
        Assert.Equal([MessageKind.Vote, MessageKind.Ack, MessageKind.Vote, MessageKind.Ack], replies.Select(r => r.Kind));
    }

    [Fact]
    public async Task Replies_AreSignedWithLoyaltysKeyOnly()
    {
        var answer = await Server.TryAsync(Wire.NewTx(), 0, Wire.Award(Wire.NewCustomer(), 1));

        Assert.Contains($"\"kid\":\"{Keys.Coordinator.KeyId}\"", answer.Text, StringComparison.Ordinal);
        Assert.False(Keys.CodecOf(Keys.Other).TryDecode(answer.Text, out _, out var error));
        Assert.Contains("not accepted", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Try_Twice_AnswersTheSameAndReservesOnce()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 10);

        var first = await Server.TryAsync(tx, 0, award);
        var second = await Server.TryAsync(tx, 0, award);

        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.Equal(first.Text, second.Text);
        Assert.Equal((0, 10), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task ConcurrentDuplicateTries_ReserveOnce()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 4);

        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Server.TryAsync(tx, 0, award)));

        Assert.All(answers, answer => Assert.Equal(Vote.Yes, answer.Reply().Vote));
        Assert.Equal((0, 4), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task Confirm_Twice_AnswersTheSameAndAppliesOnce()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 10);
        await Server.TryAsync(tx, 0, award);

        var first = await Server.ConfirmAsync(tx, 0, award);
        var again = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Server.ConfirmAsync(tx, 0, award)));

        Assert.All(again, answer => Assert.Equal(first.Text, answer.Text));
        Assert.Equal((10, 0), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task Cancel_Twice_AnswersTheSameAndReleasesOnce()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var other = Wire.NewTx();
        await Server.TryAsync(tx, 0, Wire.Award(customer, 10));
        await Server.TryAsync(other, 0, Wire.Award(customer, 3));

        var first = await Server.CancelAsync(tx, 0, Wire.Award(customer, 10));
        var second = await Server.CancelAsync(tx, 0, Wire.Award(customer, 10));

        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.Equal(first.Text, second.Text);
        Assert.Equal((0, 3), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task Cancel_BeforeTry_AcksAndTheLaterTryVotesNoAndReservesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 10);

        var cancel = await Server.CancelAsync(tx, 0, award);
        var late = await Server.TryAsync(tx, 0, award);

        Assert.Equal(HttpStatusCode.OK, cancel.Status);
        Assert.Equal(BranchOutcome.RolledBack, cancel.Reply().Outcome);
        Assert.Equal(HttpStatusCode.Conflict, late.Status);
        var vote = late.Reply();
        Assert.Equal(Vote.No, vote.Vote);
        Assert.Equal(ParticipantProtocol.RolledBackBeforePrepare, vote.Reason);
        Assert.Equal((0, 0), await Server.BalanceAsync(customer));
        Assert.Equal(late.Text, (await Server.TryAsync(tx, 0, award)).Text);
    }

    [Fact]
    public async Task Confirm_AfterCancel_Is409AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 10);
        await Server.TryAsync(tx, 0, award);
        await Server.CancelAsync(tx, 0, award);
        var lines = Server.JournalLines();

        var confirm = await Server.ConfirmAsync(tx, 0, award);

        Assert.Equal(HttpStatusCode.Conflict, confirm.Status);
        Assert.Contains("rolled back", confirm.Problem().GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal((0, 0), await Server.BalanceAsync(customer));
        Assert.Equal(lines, Server.JournalLines());
        Assert.Equal(BranchOutcome.RolledBack, (await Server.CancelAsync(tx, 0, award)).Reply().Outcome);
    }

    [Fact]
    public async Task Cancel_AfterConfirm_Is409AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 10);
        await Server.TryAsync(tx, 0, award);
        await Server.ConfirmAsync(tx, 0, award);
        var lines = Server.JournalLines();

        var cancel = await Server.CancelAsync(tx, 0, award);

        Assert.Equal(HttpStatusCode.Conflict, cancel.Status);
        Assert.Contains("committed", cancel.Problem().GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal((10, 0), await Server.BalanceAsync(customer));
        Assert.Equal(lines, Server.JournalLines());
        Assert.Equal(BranchOutcome.Committed, (await Server.ConfirmAsync(tx, 0, award)).Reply().Outcome);
    }

    [Fact]
    public async Task Confirm_OfABranchNeverTried_Is409AndRecordsNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 10);

        var confirm = await Server.ConfirmAsync(tx, 0, award);

        Assert.Equal(HttpStatusCode.Conflict, confirm.Status);
        Assert.Contains("unknown", confirm.Problem().GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(Vote.Yes, (await Server.TryAsync(tx, 0, award)).Reply().Vote);
        Assert.Equal((0, 10), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task Confirm_AfterARefusedTry_Is409AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var refused = Wire.Award(customer, -5);
        await Server.TryAsync(tx, 0, refused);

        var confirm = await Server.ConfirmAsync(tx, 0, refused);

        Assert.Equal(HttpStatusCode.Conflict, confirm.Status);
        Assert.Contains("refused", confirm.Problem().GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal((0, 0), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task Cancel_AfterARefusedTry_AcksRolledBack()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var refused = Wire.Award(customer, 0);
        var no = await Server.TryAsync(tx, 0, refused);

        var cancel = await Server.CancelAsync(tx, 0, refused);

        Assert.Equal(HttpStatusCode.OK, cancel.Status);
        Assert.Equal(BranchOutcome.RolledBack, cancel.Reply().Outcome);
        Assert.Equal(no.Text, (await Server.TryAsync(tx, 0, refused)).Text);
    }

    [Fact]
    public async Task Try_AfterTryAndCancel_RepeatsTheFirstVoteAndReservesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 10);
        var yes = await Server.TryAsync(tx, 0, award);
        await Server.CancelAsync(tx, 0, award);

        var again = await Server.TryAsync(tx, 0, award);

        Assert.Equal(yes.Text, again.Text);
        Assert.Equal((0, 0), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task Branches_OfOneTransaction_AreSeparate()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());

        await Server.TryAsync(tx, 0, Wire.Award(customer, 1));
        await Server.TryAsync(tx, 1, Wire.Award(customer, 2));
        await Server.ConfirmAsync(tx, 0, Wire.Award(customer, 1));
        await Server.CancelAsync(tx, 1, Wire.Award(customer, 2));

        Assert.Equal((1, 0), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task Confirm_AppliesWhatTheTryReserved()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        await Server.TryAsync(tx, 0, Wire.Award(customer, 10));

        // The coordinator always sends the branch's operation again; the record, not this copy, says what was reserved.
        await Server.ConfirmAsync(tx, 0, Wire.Award(customer, 99));

        Assert.Equal((10, 0), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task UnknownCustomer_ReadsZeros()
    {
        var customer = Wire.NewCustomer();

        Assert.Equal((0, 0), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task CustomerIds_WithSpacesAndNonAsciiLetters_ReadBack()
    {
        var (tx, customer) = (Wire.NewTx(), $"Zoë Ångström {Wire.NewCustomer()}");

        Assert.Equal(Vote.Yes, (await Server.TryAsync(tx, 0, Wire.Award(customer, 8))).Reply().Vote);

        Assert.Equal((0, 8), await Server.BalanceAsync(customer));
    }

    [Fact]
    public async Task Health_AnswersOk()
    {
        var answer = await Server.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("""{"status":"ok"}""", answer.Text);
    }

    [Fact]
    public async Task UnknownRoute_Is404WithAProblem()
    {
        var answer = await Server.GetAsync("/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, answer.Status);
        answer.Problem();
    }

    [Fact]
    public async Task GetOnTx_Is405()
    {
        var answer = await Server.GetAsync("/tx");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, answer.Status);
        answer.Problem();
    }
}
