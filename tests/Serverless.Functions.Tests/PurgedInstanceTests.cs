using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Functions.Coordination;
using Serverless.Functions.Storage;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// Nothing abandoned, also when an operator purges an instance before the run that finishes it started (I10): a transaction
/// with a branch only the coordinator can finish (a saga charge, a participant over HTTP) keeps its request in a begin record
/// outside its instance, and the finishing pass starts the run that finishes it from there. The host's finishing pass is
/// off (<c>FinishEndedTransactions</c> disabled): the tests run a pass themselves, after the purge, so the order is
/// deterministic. Real engine, real payment service, real loyalty service.
/// </summary>
public sealed class PurgedInstanceTests(PurgedInstanceTests.Fixture fixture) : IClassFixture<PurgedInstanceTests.Fixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private TestHost Host => fixture.Host;

    private PaymentsServer Payments => fixture.Payments;

    [Fact]
    public async Task ATerminatedSaga_PurgedBeforeItWasFinished_IsFinishedFromItsBeginRecord_RefundingTheCharge_CancellingLoyalty_AndEndsAborted()
    {
        // Loyalty's points are tried; the first charge goes through; the second hangs, and the operator terminates the run.
        var (customer, card, hangingCard) = (TestHost.Id("cust"), TestHost.Id("card"), TestHost.Id("card"));
        await Payments.SetBalanceAsync(card, 100);
        await Payments.SetBalanceAsync(hangingCard, 100);
        await Payments.SetFaultAsync(hangingCard, charge: "hang");
        var id = TestHost.Id("purged-saga");
        var deadline = DateTimeOffset.UtcNow.AddSeconds(15);
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(Order(id, customer, timeoutSeconds: 15, card, hangingCard))).StatusCode);
        var charged = await Host.WaitForStatusAsync(id, d => Branches(d)[1].GetProperty("vote").GetString() == "Yes", Wait, "the first charge through");
        var (key, hanging) = (Branches(charged)[1].GetProperty("key").GetString(), Branches(charged)[2].GetProperty("key").GetString());
        await Eventually.WaitAsync(async () => await Payments.ChargeRequestsAsync(hangingCard) >= 1, Wait, "the second charge hanging");
        Assert.Equal((0L, 10L), await fixture.Loyalty.BalanceAsync(customer));
        Assert.Equal(40, await Payments.BalanceAsync(card));

        // The operator's terminate, then purge, through Durable's management API, before any pass finished the instance.
        using (var terminate = await Host.Client.PostAsync($"/runtime/webhooks/durabletask/instances/{id}/terminate?reason=test", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, terminate.StatusCode);
        }

        await Eventually.WaitAsync(
            async () => (await Host.Durable().GetInstanceAsync(id))?.RuntimeStatus == OrchestrationRuntimeStatus.Terminated, Wait, "the instance terminated");
        using (var purge = await Host.Client.DeleteAsync($"/runtime/webhooks/durabletask/instances/{id}"))
        {
            Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
        }

        Assert.Null(await Host.Durable().GetInstanceAsync(id));

        // Before the vote deadline the pass leaves the record alone (a start may still be about to schedule it); after it, the
        // run that finishes the transaction starts from the begin record.
        Assert.Equal(0, await PassAsync());
        await Task.Delay(deadline - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1));
        Assert.Equal(1, await PassAsync());
        await Payments.ClearFaultAsync(hangingCard);
        var doc = await Host.WaitForStatusAsync(id, Wait, "Aborted");

        Assert.Equal("presumed abort: the orchestration was purged before a decision was recorded", doc.GetProperty("reason").GetString());
        Assert.All(Branches(doc), b => Assert.Equal("RolledBack", b.GetProperty("outcome").GetString()));
        Assert.Equal((0L, 0L), await fixture.Loyalty.BalanceAsync(customer));
        Assert.Equal(100, await Payments.BalanceAsync(card));
        Assert.Equal("refunded", (await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{key}")).GetProperty("status").GetString());
        Assert.Equal("voided", (await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{hanging}")).GetProperty("status").GetString());
        Assert.Equal(100, await Payments.BalanceAsync(hangingCard));

        // Ended with its outcome: the next pass deletes the begin record and starts nothing.
        await Eventually.WaitAsync(
            async () => (await Host.Durable().GetInstanceAsync(id))?.RuntimeStatus == OrchestrationRuntimeStatus.Completed, Wait, "the finishing run completed");
        Assert.NotNull(await BeginRecordAsync(id));
        Assert.Equal(0, await PassAsync());
        Assert.Null(await BeginRecordAsync(id));
    }

    [Fact]
    public async Task ACommittedSaga_LosesItsBeginRecordAtTheNextPass_SoAPurgeAfterwardsStartsNothing_AndInAppBranchesNeedNone()
    {
        var (customer, card) = (TestHost.Id("cust"), TestHost.Id("card"));
        await Payments.SetBalanceAsync(card, 100);
        var id = TestHost.Id("committed-saga");
        var deadline = DateTimeOffset.UtcNow.AddSeconds(5);
        using (var start = await Host.StartAsync(Order(id, customer, timeoutSeconds: 5, card), waitSeconds: 30))
        {
            Assert.Equal("Committed", (await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        }

        Assert.NotNull(await BeginRecordAsync(id));
        await Task.Delay(deadline - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1));
        Assert.Equal(0, await PassAsync());
        Assert.Null(await BeginRecordAsync(id));

        using (var purge = await Host.Client.DeleteAsync($"/runtime/webhooks/durabletask/instances/{id}"))
        {
            Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
        }

        Assert.Equal(0, await PassAsync());
        Assert.Null(await Host.Durable().GetInstanceAsync(id));
        Assert.Equal(40, await Payments.BalanceAsync(card));
        Assert.Equal((10L, 0L), await fixture.Loyalty.BalanceAsync(customer));

        // A transfer between the app's own accounts: its participant asks about a branch it holds, so no begin record.
        var (transfer, alice, bob) = (TestHost.Id("transfer"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);
        using (var start = await Host.StartAsync(TestHost.Transfer(transfer, alice, bob, 30), waitSeconds: 30))
        {
            Assert.Equal(HttpStatusCode.OK, start.StatusCode);
        }

        Assert.Null(await BeginRecordAsync(transfer));
    }

    private Task<int> PassAsync() => ActivatorUtilities.CreateInstance<EndedTransactions>(Host.Services).FinishAsync(Host.Durable());

    private async Task<TableEntity?> BeginRecordAsync(string id)
    {
        var row = await Host.Table(StorageNames.DecisionsTable(Host.TaskHub)).GetEntityIfExistsAsync<TableEntity>(BeginRecords.PartitionKey, id);
        return row.HasValue ? row.Value : null;
    }

    private static JsonElement[] Branches(JsonElement doc) => [.. doc.GetProperty("participants").EnumerateArray()];

    /// <summary>Points for the customer (TCC over HTTP), then a saga charge of 60 on the first card and one of 10 on each other.</summary>
    private static object Order(string id, string customer, int timeoutSeconds, params string[] cards) => new
    {
        transactionId = id,
        timeoutSeconds,
        participants = new object[] { new { participant = "loyalty", kind = "tcc", operation = new { type = "award", customer, points = 10 } } }
            .Concat(cards.Select((card, i) => new { participant = "payments", kind = "saga", operation = new { type = "charge", account = card, amount = i == 0 ? 60 : 10 } })),
    };

    /// <summary>A host with loyalty over HTTP and payments as its saga participant, whose own pass that finishes ended runs is off.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private TestHost? _host;
        private PaymentsServer? _payments;
        private LoyaltyServer? _loyalty;

        public TestHost Host => _host ?? throw new InvalidOperationException("not started");

        public PaymentsServer Payments => _payments ?? throw new InvalidOperationException("not started");

        public LoyaltyServer Loyalty => _loyalty ?? throw new InvalidOperationException("not started");

        public async Task InitializeAsync()
        {
            _payments = await PaymentsServer.StartAsync();
            _loyalty = await LoyaltyServer.StartAsync(ParticipantKeyring.DeriveKey(TestHost.SigningKey, "loyalty"));
            _host = await TestHost.StartAsync(new Dictionary<string, string?>
            {
                ["PARTICIPANT_LOYALTY_URL"] = new Uri(Loyalty.BaseUrl, "/tx").AbsoluteUri,
                ["PARTICIPANT_LOYALTY_KINDS"] = "tcc",
                ["PAYMENTS_URL"] = Payments.BaseUrl.ToString(),
                [PaymentsServer.ApiKeySetting] = Payments.ApiKey,
                ["PAYMENTS_TIMEOUT_SECONDS"] = "2",
                ["TRANSACTIONS_SAGA_PHASE_SECONDS"] = "60",
                ["AzureWebJobs.FinishEndedTransactions.Disabled"] = "true",
            });
        }

        public async Task DisposeAsync()
        {
            foreach (var part in new IAsyncDisposable?[] { _host, _loyalty, _payments })
            {
                if (part is not null)
                {
                    await part.DisposeAsync();
                }
            }
        }
    }
}
