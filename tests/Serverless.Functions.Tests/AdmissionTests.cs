using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Storage.Queues;
using Serverless.Functions.Storage;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// Admission control on the real engine: while the engine is behind (a message waiting in the task hub's queues for longer
/// than <c>TRANSACTIONS_MAX_ENGINE_LAG_SECONDS</c>), a start is answered 429 with Retry-After and nothing is started for it;
/// once the engine caught up, the same start is accepted and runs as any other.
/// </summary>
public sealed class AdmissionTests
{
    [Fact]
    public async Task WhileTheEngineIsBehind_AStartIs429WithRetryAfter_NothingOfItIsKept_AndOnceCaughtUpItIsAccepted()
    {
        await using var payments = await PaymentsServer.StartAsync();
        await using var host = await TestHost.StartAsync(new Dictionary<string, string?>
        {
            ["PAYMENTS_URL"] = payments.BaseUrl.ToString(),
            [PaymentsServer.ApiKeySetting] = payments.ApiKey,
            ["PAYMENTS_TIMEOUT_SECONDS"] = "8",
            ["TRANSACTIONS_MAX_ENGINE_LAG_SECONDS"] = "2",

            // One activity at a time: while a charge hangs, every other activity waits in the work-item queue.
            ["AzureFunctionsJobHost:extensions:durableTask:maxConcurrentActivityFunctions"] = "1",
        });
        var card = TestHost.Id("card");
        await payments.SetBalanceAsync(card, 100);
        await payments.SetFaultAsync(card, charge: "hang");
        var (alice, bob) = (TestHost.Id("alice"), TestHost.Id("bob"));
        Assert.Equal(HttpStatusCode.OK, (await host.PutAccountAsync(alice, 100)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.PutAccountAsync(bob, 0)).StatusCode);

        // The charge holds the only activity slot; the transfer's prepares wait behind it.
        var charge = await host.Client.PostAsJsonAsync("/api/transactions", new
        {
            transactionId = TestHost.Id("charge"),
            timeoutSeconds = 60,
            participants = new object[] { new { participant = "payments", kind = "saga", operation = new { type = "charge", account = card, amount = 10 } } },
        });
        Assert.Equal(HttpStatusCode.Accepted, charge.StatusCode);
        var waiting = TestHost.Id("waiting");
        Assert.Equal(HttpStatusCode.Accepted, (await host.Client.PostAsJsonAsync("/api/transactions", TestHost.Transfer(waiting, alice, bob, 5, timeoutSeconds: 60))).StatusCode);

        // Each try a new transaction: one accepted before the lag built up waits with the others.
        var refusedId = string.Empty;
        var early = new List<string>();
        HttpResponseMessage? refused = null;
        await Eventually.WaitAsync(
            async () =>
            {
                refusedId = TestHost.Id("refused");
                refused = await host.Client.PostAsJsonAsync("/api/transactions", TestHost.Transfer(refusedId, alice, bob, 1, timeoutSeconds: 60));
                if (refused.StatusCode == HttpStatusCode.Accepted)
                {
                    early.Add(refusedId);
                }

                return refused.StatusCode == HttpStatusCode.TooManyRequests;
            },
            TimeSpan.FromSeconds(8),
            "a start refused while the prepares wait behind the hanging charge");

        Assert.Equal("application/problem+json", refused!.Content.Headers.ContentType?.MediaType);
        var retryAfter = Assert.Single(refused.Headers.GetValues("Retry-After"));
        Assert.InRange(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture), 2, 10);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("behind", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Nothing of the refused start was kept: no instance, and no claim (the id takes another request).
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client.GetAsync($"/api/transactions/{refusedId}")).StatusCode);
        Assert.Null(await host.Decisions.GetAsync(refusedId));

        // The charge's service answers again: the backlog drains, and the start is accepted and commits.
        await payments.ClearFaultAsync(card);
        HttpResponseMessage? accepted = null;
        await Eventually.WaitAsync(
            async () => (accepted = await host.Client.PostAsJsonAsync("/api/transactions", TestHost.Transfer(refusedId, alice, bob, 3, timeoutSeconds: 60))).StatusCode == HttpStatusCode.Accepted,
            TimeSpan.FromSeconds(40),
            "the start accepted once the engine caught up");
        foreach (var id in early.Append(waiting).Append(refusedId))
        {
            await Eventually.WaitAsync(async () => (await host.GetStatusAsync(id)).GetProperty("status").GetString() == "Committed", TimeSpan.FromSeconds(40), $"{id} committed");
        }

        Assert.Equal((100L - 5 - early.Count - 3, 0L), await host.GetAccountAsync(alice));
    }

    [Fact]
    public async Task TheLag_IsTheOldestFreshMessage_AFiredTimerCountingFromWhenItFired()
    {
        await using var azurite = await AzuriteInstance.StartAsync();
        using var metrics = new StorageMetrics();
        var storage = StorageClients.Create(azurite.ConnectionString, null, null, metrics);
        var hub = "LagTest";
        var time = TimeProvider.System;
        Assert.Equal(TimeSpan.Zero, await new EngineLag(storage, hub, time).GetAsync());

        var raw = new QueueServiceClient(azurite.ConnectionString);
        var workItems = raw.GetQueueClient("lagtest-workitems");
        var control = raw.GetQueueClient("lagtest-control-00");
        var other = raw.GetQueueClient("lagtest2-workitems");
        foreach (var queue in new[] { workItems, control, other })
        {
            await queue.CreateAsync();
        }

        // A durable timer's message is sent when the timer is set and becomes visible when it fires: it waits from then.
        // A message of another task hub does not count.
        var fireAt = DateTime.UtcNow.AddSeconds(3);
        await control.SendMessageAsync(TimerFired(fireAt), visibilityTimeout: TimeSpan.FromSeconds(3));
        await other.SendMessageAsync("{}");
        await Task.Delay(fireAt - DateTime.UtcNow + TimeSpan.FromSeconds(0.5));
        Assert.InRange(await new EngineLag(storage, hub, time).GetAsync(), TimeSpan.Zero, TimeSpan.FromSeconds(2));
        await control.ClearMessagesAsync();

        // A message waiting in the work-item queue since 2 s counts; one received before (DequeueCount 1) does not.
        await workItems.SendMessageAsync("{\"TaskMessage\":{}}");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.InRange(await new EngineLag(storage, hub, time).GetAsync(), TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(10));
        await workItems.ReceiveMessageAsync(TimeSpan.FromSeconds(1));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal(1, (await workItems.PeekMessageAsync()).Value.DequeueCount);
        Assert.InRange(await new EngineLag(storage, hub, time).GetAsync(), TimeSpan.Zero, TimeSpan.FromSeconds(1.5));
    }

    [Theory]
    [InlineData("{\"$type\":\"DurableTask.AzureStorage.MessageData\",\"TaskMessage\":{\"Event\":{\"$type\":\"DurableTask.Core.History.TimerFiredEvent, DurableTask.Core\",\"FireAt\":\"2026-12-07T10:00:01.5Z\",\"TimerId\":3}}}", "2026-12-07T10:00:01.5Z")]
    [InlineData("{\"TaskMessage\":{\"Event\":{\"EventType\":4,\"Name\":\"Prepare\"}}}", null)]
    [InlineData("not json at all", null)]
    public void FiredAt_ReadsATimersFireAt(string body, string? expected)
    {
        var fired = EngineLag.FiredAt(BinaryData.FromString(body));

        Assert.Equal(expected is null ? null : DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), fired);
    }

    private static string TimerFired(DateTime fireAt) =>
        "{\"$type\":\"DurableTask.AzureStorage.MessageData\",\"TaskMessage\":{\"Event\":{\"$type\":\"DurableTask.Core.History.TimerFiredEvent, DurableTask.Core\",\"FireAt\":\"" +
        fireAt.ToString("o", System.Globalization.CultureInfo.InvariantCulture) + "\",\"TimerId\":0}}}";
}
