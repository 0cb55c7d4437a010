using System.Net;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Messaging;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// <c>RecordDecision</c> sends phase 2 before it returns, so a participant's acknowledgement can reach the orchestration before
/// the activity's result does (the engine delivers its events in no set order). Such an acknowledgement is kept and applied
/// once the decision is known: dropped, the branch would look unacknowledged and the transaction would wait for a phase-2
/// retry (seconds to minutes) and send its commands again.
/// </summary>
public sealed class AcknowledgementOrderTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task AcknowledgementsBeforeTheDecision_AreAppliedOnceItIsKnown_WithoutWaitingForAPhase2Retry()
    {
        var logs = new LogCapture();
        await using var host = await TestHost.StartAsync(
            new Dictionary<string, string?>
            {
                ["AzureWebJobs.BankParticipant.Disabled"] = "true",

                // A phase-2 retry would come only after ten minutes: the transaction can end within the test only if the
                // early acknowledgements count.
                ["TRANSACTIONS_PHASE2_RETRY_SECONDS"] = "600",
                ["Logging:LogLevel:Serverless.Functions.Coordination"] = "Debug",
            },
            logs: logs);
        var (id, alice, bob) = (TestHost.Id("early-ack"), TestHost.Id("alice"), TestHost.Id("bob"));
        await host.PutAccountAsync(alice, 100);
        await host.PutAccountAsync(bob, 0);
        Assert.Equal(HttpStatusCode.Accepted, (await host.StartAsync(TestHost.Transfer(id, alice, bob, 30, timeoutSeconds: 120))).StatusCode);
        var inbox = new PausedInbox(host, "bank");
        var prepares = await inbox.TakeAsync(id, 2, Wait, c => c.Kind == MessageKind.Prepare);

        // Both acknowledgements are raised before any vote: they reach the orchestration before it has decided anything.
        var client = host.Services.GetRequiredService<DurableTaskClient>();
        foreach (var branch in new[] { 0, 1 })
        {
            await client.RaiseEventAsync(id, TransactionEvents.Ack, new AckEvent(branch, BranchOutcome.Committed));
        }

        await Eventually.WaitAsync(() => Task.FromResult(logs.Count(1009, $"Transaction {id}:") == 2), Wait, "both acknowledgements kept");
        foreach (var prepare in prepares.OrderBy(p => p.Branch))
        {
            await inbox.DeliverAsync(prepare);
        }

        var end = await host.WaitForStatusAsync(id, Wait, "Committed", "Aborted");
        Assert.Equal("Committed", end.GetProperty("status").GetString());
        Assert.All(end.GetProperty("participants").EnumerateArray(), b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));

        // The commits RecordDecision sent are in the bank's inbox, once each; delivered, they finish the transfer.
        var commits = await inbox.TakeAsync(id, 2, Wait);
        Assert.Equal([0, 1], commits.Select(c => c.Branch).Order());
        Assert.All(commits, c => Assert.Equal(MessageKind.Commit, c.Kind));
        foreach (var commit in commits)
        {
            await inbox.DeliverAsync(commit);
        }

        Assert.Equal((70, 0), await host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await host.GetAccountAsync(bob));
        Assert.Empty(await inbox.PeekAsync(id));
    }
}
