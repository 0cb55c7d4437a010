using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.Core.Messaging;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Participants;
using Serverless.Runtime.Samples;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// The one-phase optimisation: a transaction with a single participant sends that participant its prepare and
/// nothing else. Its vote is applied to the coordinator's checkpoint in-process, the decision is still the
/// coordinator's conditional write, and the branch commits (or rolls back) in the same invocation.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class OnePhaseTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(100, "Committed", null, "Committed", 70)]
    [InlineData(10, "Aborted", "participant 'bank' voted No: insufficient funds in 'alice'", null, 10)]
    public async Task SingleParticipant_Ends_WithThePrepareAsItsOnlyMessage(long balance, string status, string? reason, string? outcome, long after)
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", balance);
        var sent = RecordSends(host);

        var response = await host.StartAsync(Debit($"one-phase-{balance}", "alice", 30), waitSeconds: 20);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var doc = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(status, doc.GetProperty("status").GetString());
        Assert.Equal(reason, doc.GetProperty("reason").GetString());
        Assert.Equal(outcome, doc.GetProperty("participants")[0].GetProperty("outcome").GetString());
        Assert.Equal((after, 0), await host.GetAccountAsync("alice"));

        // Two-phase commit would also send the vote to the coordinator and, after a Yes, a commit to the bank and
        // its acknowledgement back.
        Assert.Equal([host.Names.ParticipantQueue("bank")], sent);
    }

    [Fact]
    public async Task TwoBranches_TheVoteThatDecidesCommitsItsOwnBranch_OnlyTheOtherGetsACommitMessage()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 100);
        await host.PutAccountAsync("bob", 0);
        var sent = RecordSends(host);

        var response = await host.StartAsync(TestHost.Transfer("local-phase-2", "alice", "bob", 30), waitSeconds: 20);

        Assert.Equal("Committed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal((70, 0), await host.GetAccountAsync("alice"));
        Assert.Equal((30, 0), await host.GetAccountAsync("bob"));

        // Two prepares and one commit; no vote or acknowledgement travels through the coordinator's inbox.
        Assert.Equal(Enumerable.Repeat(host.Names.ParticipantQueue("bank"), 3), sent);
    }

    [Fact]
    public async Task SingleParticipant_WhenAbortIsDecidedBeforeItsYesVote_RollsItselfBackAndTheTransactionAborts()
    {
        // The bank runs in no host here: its commands wait in its queue until the test hands them over.
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString, new Dictionary<string, string?>
        {
            ["TRANSACTIONS_HOSTED_PARTICIPANTS"] = "inventory",
        });
        var bank = new BankResourceManager(new TableClient(azurite.Azurite.ConnectionString, host.Names.ParticipantTable("BankAccounts")));
        await bank.EnsureCreatedAsync();
        await bank.SetBalanceAsync("alice", 100);
        var dispatcher = new ParticipantDispatcher(
            "bank", bank, host.Services.GetRequiredService<TransactionCoordinator>(), host.Names, NullLogger<ParticipantDispatcher>.Instance);

        Assert.Equal(HttpStatusCode.Accepted, (await host.StartAsync(Debit("abort-first", "alice", 30))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await host.Client.PostAsync("/api/transactions/abort-first/abort", null)).StatusCode);
        Assert.Equal("Aborting", (await host.GetStatusAsync("abort-first")).GetProperty("status").GetString());
        var commands = await ReceiveAsync(host, 2);
        Assert.Equal([MessageKind.Prepare, MessageKind.Rollback], commands.Select(c => c.Kind).Order());

        // The prepare arrives first and reserves: its Yes meets the Abort decision, so the branch rolls back at once.
        await dispatcher.HandleAsync(commands.Single(c => c.Kind == MessageKind.Prepare));
        var doc = await host.GetStatusAsync("abort-first");
        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal("Abort", doc.GetProperty("decision").GetString());
        Assert.Equal("Yes", doc.GetProperty("participants")[0].GetProperty("vote").GetString());
        Assert.Equal("RolledBack", doc.GetProperty("participants")[0].GetProperty("outcome").GetString());
        Assert.Equal((100, 0), (await bank.GetAccountAsync("alice"))!.Value);

        // The rollback the decision sent through the queue arrives later and changes nothing.
        await dispatcher.HandleAsync(commands.Single(c => c.Kind == MessageKind.Rollback));
        Assert.Equal("Aborted", (await host.GetStatusAsync("abort-first")).GetProperty("status").GetString());
        Assert.Equal((100, 0), (await bank.GetAccountAsync("alice"))!.Value);
    }

    private static object Debit(string id, string account, long amount) => new
    {
        transactionId = id,
        participants = new object[] { new { participant = "bank", operation = new { type = "debit", account, amount } } },
    };

    /// <summary>The queues this host sends undelayed messages to from now on (timers are delayed and not listed).</summary>
    private static ConcurrentQueue<string> RecordSends(TestHost host)
    {
        var sent = new ConcurrentQueue<string>();
        host.Transport.MessageSent += sent.Enqueue;
        return sent;
    }

    private static async Task<List<ProtocolMessage>> ReceiveAsync(TestHost host, int count)
    {
        var codec = host.Services.GetRequiredService<MessageCodec>();
        var received = new List<ProtocolMessage>();
        await Eventually.WaitAsync(async () =>
        {
            foreach (var message in await host.Transport.ReceiveAsync(host.Names.ParticipantQueue("bank"), 32, TimeSpan.FromMinutes(5)))
            {
                Assert.True(codec.TryDecode(message.Body.ToString(), out var decoded, out var error), error);
                received.Add(decoded!);
            }

            return received.Count >= count;
        }, Wait, $"{count} commands in the bank's queue");
        return received;
    }
}
