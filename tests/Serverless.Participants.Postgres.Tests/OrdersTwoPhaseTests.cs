using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Participants.Postgres.Tests;

/// <summary>The orders participant through prepare, commit and rollback, duplicates included.</summary>
public sealed class OrdersTwoPhaseTests(PostgresServer server) : ParticipantTest(server)
{
    [Fact]
    public async Task Prepare_ThenCommit_MakesTheOrderVisible_AndLeavesNoPreparedTransaction()
    {
        var branch = NewBranch();
        var orderId = NewOrderId();
        var operation = PlaceOperation(orderId, quantity: 3);

        var vote = await Manager.PrepareAsync(branch, operation);

        Assert.Equal(Vote.Yes, vote.Vote);
        Assert.Equal([Manager.GlobalTransactionIdOf(branch)], await PreparedGidsAsync());
        Assert.Null(await Orders.GetOrderAsync(orderId));
        Assert.Equal(BranchPhase.Prepared, (await Manager.GetBranchAsync(branch))!.Phase);

        await Manager.CommitAsync(branch, operation);

        var order = await Orders.GetOrderAsync(orderId);
        Assert.NotNull(order);
        Assert.Equal((orderId, "sku-1", 3, "alice", branch.TransactionId), (order.OrderId, order.Sku, order.Quantity, order.Customer, order.TransactionId));
        Assert.Empty(await PreparedGidsAsync());
        Assert.Equal(new BranchRecord(BranchPhase.Committed, Vote.Yes), await Manager.GetBranchAsync(branch));
    }

    [Fact]
    public async Task Prepare_ThenRollback_LeavesNothing()
    {
        var branch = NewBranch();
        var orderId = NewOrderId();
        var operation = PlaceOperation(orderId);

        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(branch, operation)).Vote);
        await Manager.RollbackAsync(branch, operation);

        Assert.Null(await Orders.GetOrderAsync(orderId));
        Assert.Equal(0, await CountOrdersAsync(orderId));
        Assert.Empty(await PreparedGidsAsync());
        Assert.Equal(BranchPhase.RolledBack, (await Manager.GetBranchAsync(branch))!.Phase);
    }

    [Fact]
    public async Task Prepare_Twice_RepeatsTheVote_WithOnePreparedTransaction()
    {
        var branch = NewBranch();
        var operation = PlaceOperation(NewOrderId());

        var first = await Manager.PrepareAsync(branch, operation);
        var second = await Manager.PrepareAsync(branch, operation);

        Assert.Equal(Vote.Yes, first.Vote);
        Assert.Equal(first, second);
        Assert.Single(await PreparedGidsAsync());
        await Manager.RollbackAsync(branch, operation);
    }

    [Fact]
    public async Task ConcurrentDuplicatePrepares_AllVoteYes_AndPrepareOnce()
    {
        var branch = NewBranch();
        var orderId = NewOrderId();
        var operation = PlaceOperation(orderId);

        var votes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Manager.PrepareAsync(branch, operation)))).WaitAsync(Timeout);

        Assert.All(votes, v => Assert.Equal(Vote.Yes, v.Vote));
        Assert.Single(await PreparedGidsAsync());
        await Manager.CommitAsync(branch, operation);
        Assert.Equal(1, await CountOrdersAsync(orderId));
    }

    [Fact]
    public async Task Commit_Twice_IsIdempotent()
    {
        var branch = NewBranch();
        var orderId = NewOrderId();
        var operation = PlaceOperation(orderId);
        await Manager.PrepareAsync(branch, operation);

        await Manager.CommitAsync(branch, operation);
        await Manager.CommitAsync(branch, operation);
        await Task.WhenAll(Manager.CommitAsync(branch, operation), Manager.CommitAsync(branch, operation)).WaitAsync(Timeout);

        Assert.Equal(1, await CountOrdersAsync(orderId));
        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(branch, operation)).Vote);
        Assert.Empty(await PreparedGidsAsync());
    }

    [Fact]
    public async Task ConcurrentCommits_OfOnePreparedBranch_BothSucceed()
    {
        var branch = NewBranch();
        var orderId = NewOrderId();
        var operation = PlaceOperation(orderId);
        await Manager.PrepareAsync(branch, operation);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Manager.CommitAsync(branch, operation)))).WaitAsync(Timeout);

        Assert.Equal(1, await CountOrdersAsync(orderId));
        Assert.Equal(BranchPhase.Committed, (await Manager.GetBranchAsync(branch))!.Phase);
    }

    [Fact]
    public async Task Rollback_Twice_IsIdempotent()
    {
        var branch = NewBranch();
        var orderId = NewOrderId();
        var operation = PlaceOperation(orderId);
        await Manager.PrepareAsync(branch, operation);

        await Manager.RollbackAsync(branch, operation);
        await Manager.RollbackAsync(branch, operation);
        await Task.WhenAll(Manager.RollbackAsync(branch, operation), Manager.RollbackAsync(branch, operation)).WaitAsync(Timeout);

        Assert.Equal(0, await CountOrdersAsync(orderId));
        Assert.Equal(BranchPhase.RolledBack, (await Manager.GetBranchAsync(branch))!.Phase);
    }

    [Fact]
    public async Task Rollback_BeforePrepare_MakesALatePrepareVoteNo_AndPrepareNothing()
    {
        var branch = NewBranch();
        var orderId = NewOrderId();
        var operation = PlaceOperation(orderId);

        await Manager.RollbackAsync(branch, operation);
        var late = await Manager.PrepareAsync(branch, operation);

        Assert.Equal(PrepareResult.No(ParticipantProtocol.RolledBackBeforePrepare), late);
        Assert.Empty(await PreparedGidsAsync());
        Assert.Equal(0, await CountOrdersAsync(orderId));
        await Manager.RollbackAsync(branch, operation);
        Assert.Equal(late, await Manager.PrepareAsync(branch, operation));
    }

    [Fact]
    public async Task PrepareRacingRollback_EndsRolledBack_WithNothingPrepared()
    {
        for (var round = 0; round < 10; round++)
        {
            var branch = NewBranch();
            var orderId = NewOrderId();
            var operation = PlaceOperation(orderId);

            var prepare = Task.Run(() => Manager.PrepareAsync(branch, operation));
            var rollback = Task.Run(() => Manager.RollbackAsync(branch, operation));
            await Task.WhenAll(prepare, rollback).WaitAsync(Timeout);

            // Either the rollback came first (the prepare votes No) or second (it rolled the prepared branch back).
            var record = await Manager.GetBranchAsync(branch);
            Assert.Equal(BranchPhase.RolledBack, record!.Phase);
            Assert.Equal((await prepare).Vote == Vote.Yes ? Vote.Yes : null, record.Vote);
            Assert.Empty(await PreparedGidsAsync());
            Assert.Equal(0, await CountOrdersAsync(orderId));
        }
    }

    [Fact]
    public async Task Prepare_OfAnExistingOrderId_VotesNo()
    {
        var orderId = NewOrderId();
        var first = NewBranch();
        await Manager.PrepareAsync(first, PlaceOperation(orderId));
        await Manager.CommitAsync(first, PlaceOperation(orderId));

        var second = NewBranch();
        var vote = await Manager.PrepareAsync(second, PlaceOperation(orderId, quantity: 5));

        Assert.Equal(Vote.No, vote.Vote);
        Assert.Contains("already exists", vote.Reason, StringComparison.Ordinal);
        Assert.Empty(await PreparedGidsAsync());
        Assert.Equal(2, (await Orders.GetOrderAsync(orderId))!.Quantity);
        Assert.Equal(new BranchRecord(BranchPhase.Refused, Vote.No, vote.Reason), await Manager.GetBranchAsync(second));
        await Manager.RollbackAsync(second, PlaceOperation(orderId, quantity: 5));
    }

    [Fact]
    public async Task Prepare_OfAnOrderHeldByAnotherPreparedTransaction_VotesNo_WithoutWaitingForItsDecision()
    {
        var orderId = NewOrderId();
        var holder = NewBranch();
        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(holder, PlaceOperation(orderId))).Vote);

        var other = NewBranch();
        var started = DateTimeOffset.UtcNow;
        var vote = await Manager.PrepareAsync(other, PlaceOperation(orderId)).WaitAsync(Timeout);

        Assert.Equal(Vote.No, vote.Vote);
        Assert.Contains("not decided yet", vote.Reason, StringComparison.Ordinal);
        Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(10));
        Assert.Equal([Manager.GlobalTransactionIdOf(holder)], await PreparedGidsAsync());

        await Manager.CommitAsync(holder, PlaceOperation(orderId));
        Assert.Equal(holder.TransactionId, (await Orders.GetOrderAsync(orderId))!.TransactionId);
    }

    [Fact]
    public async Task Prepare_OfAnOrderThatAnotherBranchRolledBack_VotesYes()
    {
        var orderId = NewOrderId();
        var first = NewBranch();
        await Manager.PrepareAsync(first, PlaceOperation(orderId));
        await Manager.RollbackAsync(first, PlaceOperation(orderId));

        var second = NewBranch();
        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(second, PlaceOperation(orderId))).Vote);
        await Manager.CommitAsync(second, PlaceOperation(orderId));
        Assert.Equal(second.TransactionId, (await Orders.GetOrderAsync(orderId))!.TransactionId);
    }

    [Theory]
    [InlineData("not json", "invalid operation")]
    [InlineData("[1,2]", "JSON object")]
    [InlineData("""{"type":"cancel","orderId":"o1","sku":"s","quantity":1,"customer":"c"}""", "'type'")]
    [InlineData("""{"type":"place","sku":"s","quantity":1,"customer":"c"}""", "'orderId'")]
    [InlineData("""{"type":"place","orderId":"o 1","sku":"s","quantity":1,"customer":"c"}""", "'orderId'")]
    [InlineData("""{"type":"place","orderId":"o1","quantity":1,"customer":"c"}""", "'sku'")]
    [InlineData("""{"type":"place","orderId":"o1","sku":"s","quantity":0,"customer":"c"}""", "'quantity'")]
    [InlineData("""{"type":"place","orderId":"o1","sku":"s","quantity":1.5,"customer":"c"}""", "'quantity'")]
    [InlineData("""{"type":"place","orderId":"o1","sku":"s","quantity":"1","customer":"c"}""", "'quantity'")]
    [InlineData("""{"type":"place","orderId":"o1","sku":"s","quantity":1}""", "'customer'")]
    public async Task Prepare_OfAnInvalidOperation_VotesNo_AndPreparesNothing(string operation, string reasonMentions)
    {
        var branch = NewBranch();

        var vote = await Manager.PrepareAsync(branch, operation);

        Assert.Equal(Vote.No, vote.Vote);
        Assert.StartsWith("invalid operation", vote.Reason, StringComparison.Ordinal);
        Assert.Contains(reasonMentions, vote.Reason, StringComparison.Ordinal);
        Assert.Empty(await PreparedGidsAsync());
        Assert.Equal(0, await CountOrdersAsync("o1"));
        await Manager.RollbackAsync(branch, operation);
        await Assert.ThrowsAsync<ProtocolViolationException>(() => Manager.CommitAsync(branch, operation));
    }

    [Fact]
    public async Task ContradictoryCommands_AreProtocolViolations_AndChangeNothing()
    {
        var unknown = NewBranch();
        await Assert.ThrowsAsync<ProtocolViolationException>(() => Manager.CommitAsync(unknown, "{}"));
        Assert.Null(await Manager.GetBranchAsync(unknown));

        var refused = NewBranch();
        await Manager.PrepareAsync(refused, "{}");
        await Assert.ThrowsAsync<ProtocolViolationException>(() => Manager.CommitAsync(refused, "{}"));

        var rolledBack = NewBranch();
        await Manager.RollbackAsync(rolledBack, "{}");
        await Assert.ThrowsAsync<ProtocolViolationException>(() => Manager.CommitAsync(rolledBack, "{}"));

        var committed = NewBranch();
        var orderId = NewOrderId();
        await Manager.PrepareAsync(committed, PlaceOperation(orderId));
        await Manager.CommitAsync(committed, PlaceOperation(orderId));
        await Assert.ThrowsAsync<ProtocolViolationException>(() => Manager.RollbackAsync(committed, PlaceOperation(orderId)));
        Assert.Equal(1, await CountOrdersAsync(orderId));
    }

    [Fact]
    public async Task GetOrder_OfAnUnknownOrInvalidId_IsNull()
    {
        Assert.Null(await Orders.GetOrderAsync(NewOrderId()));
        Assert.Null(await Orders.GetOrderAsync("not a valid id"));
        Assert.Null(await Orders.GetOrderAsync(""));
    }

    [Fact]
    public async Task EnsureCreated_IsIdempotent_AlsoConcurrently()
    {
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Manager.EnsureCreatedAsync())).WaitAsync(Timeout);
        await Manager.EnsureCreatedAsync();
    }
}
