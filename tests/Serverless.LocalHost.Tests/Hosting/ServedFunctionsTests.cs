using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DurableTask.AzureStorage;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Functions.Coordination;
using Serverless.LocalHost.Queues;
using Serverless.LocalHost.Tests.Metadata;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Hosting;

/// <summary>The running local host serves what functions.metadata declares, and runs the app's orchestration.</summary>
public sealed partial class ServedFunctionsTests(LocalHostFixture fixture) : IClassFixture<LocalHostFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task EveryHttpRouteOfTheMetadata_IsAnsweredByItsFunctionWithNeither404Nor405()
    {
        // Route values that name things that exist, so that a 404 can only mean the route is not served.
        var (account, sku) = (Name("acct"), Name("sku"));
        Assert.True((await fixture.Client.PutAsJsonAsync($"/api/bank/accounts/{account}", new { balance = 100 })).IsSuccessStatusCode);
        Assert.True((await fixture.Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock = 5 })).IsSuccessStatusCode);
        var transaction = await CommitAsync(Transfer(Name("tx"), account, account, 1));
        var values = new Dictionary<string, string> { ["id"] = transaction, ["account"] = account, ["sku"] = sku, ["orderId"] = Name("order") };
        var bodies = new Dictionary<string, object>
        {
            ["transactions"] = Transfer(Name("tx"), account, account, 1),
            ["bank/accounts/{account}"] = new { balance = 100 },
            ["inventory/items/{sku}"] = new { stock = 5 },
        };

        var answers = new List<string>();
        var wrong = new List<string>();
        foreach (var function in FunctionsMetadata.Load().Where(f => f.Trigger.Type == "httpTrigger"))
        {
            var route = function.Trigger.Route ?? function.Name;
            var path = "/api/" + RouteParameter().Replace(route, m => values.GetValueOrDefault(m.Groups[1].Value, "x"));
            foreach (var method in function.Trigger.Methods ?? [])
            {
                using var request = new HttpRequestMessage(new HttpMethod(method.ToUpperInvariant()), path);
                if (method is "post" or "put" or "patch")
                {
                    request.Content = new StringContent(JsonSerializer.Serialize(bodies.GetValueOrDefault(route, new { })), Encoding.UTF8, "application/json");
                }

                using var response = await fixture.Client.SendAsync(request);
                var servedBy = response.Headers.TryGetValues(LocalHostFixture.ServedByHeader, out var names) ? string.Join(",", names) : "(no header)";
                var answer = $"{function.Name}: {request.Method} {path} -> {(int)response.StatusCode} from {servedBy}";
                answers.Add(answer);
                if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed || servedBy != function.Name)
                {
                    wrong.Add(answer);
                }
            }
        }

        Assert.True(answers.Count >= 10, string.Join("\n", answers));
        Assert.True(wrong.Count == 0, "Not served as declared:\n" + string.Join("\n", wrong) + "\nAll answers:\n" + string.Join("\n", answers));
    }

    [Fact]
    public async Task UnknownRouteAndUndeclaredMethod_Are404And405_SoTheRouteCheckCanFail()
    {
        using var unknown = await fixture.Client.GetAsync("/api/no-such-route");
        using var wrongMethod = await fixture.Client.DeleteAsync("/api/health");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
    }

    [Fact]
    public async Task Transaction_ThroughTheApi_CommitsOnTheTwoPhaseCommitOrchestration()
    {
        var (from, to) = (Name("from"), Name("to"));
        Assert.True((await fixture.Client.PutAsJsonAsync($"/api/bank/accounts/{from}", new { balance = 100 })).IsSuccessStatusCode);
        Assert.True((await fixture.Client.PutAsJsonAsync($"/api/bank/accounts/{to}", new { balance = 0 })).IsSuccessStatusCode);

        var id = await CommitAsync(Transfer(Name("tx"), from, to, 30));

        Assert.Equal((70, 0), await AccountAsync(from));
        Assert.Equal((30, 0), await AccountAsync(to));
        var client = fixture.Services.GetRequiredService<DurableTaskClient>();
        var instance = await client.GetInstanceAsync(id, getInputsAndOutputs: true);
        Assert.NotNull(instance);
        Assert.Equal("TwoPhaseCommit", instance.Name);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, instance.RuntimeStatus);
        Assert.Equal("Committed", instance.ReadOutputAs<TransactionView>()!.Status);
    }

    [Fact]
    public void Host_ReadsTheBuiltHostJsonWithFunctionsMeaning()
    {
        using var hostJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "host.json")));
        var extensions = hostJson.RootElement.GetProperty("extensions");
        var queuesJson = extensions.GetProperty("queues");
        var durableJson = extensions.GetProperty("durableTask");
        var queues = fixture.Services.GetRequiredService<QueueListenerOptions>();
        var durable = fixture.Services.GetRequiredService<AzureStorageOrchestrationServiceSettings>();

        Assert.Equal(queuesJson.GetProperty("batchSize").GetInt32(), queues.BatchSize);
        Assert.Equal(queuesJson.GetProperty("newBatchThreshold").GetInt32(), queues.NewBatchThreshold);
        Assert.Equal(TimeSpan.Parse(queuesJson.GetProperty("maxPollingInterval").GetString()!, null), queues.MaxPollingInterval);
        Assert.Equal(TimeSpan.Parse(queuesJson.GetProperty("visibilityTimeout").GetString()!, null), queues.VisibilityTimeout);
        Assert.Equal(queuesJson.GetProperty("maxDequeueCount").GetInt32(), queues.MaxDequeueCount);
        Assert.Equal(durableJson.GetProperty("hubName").GetString(), durable.TaskHubName);
        Assert.Equal(durableJson.GetProperty("maxConcurrentActivityFunctions").GetInt32(), durable.MaxConcurrentTaskActivityWorkItems);
        Assert.Equal(durableJson.GetProperty("maxConcurrentOrchestratorFunctions").GetInt32(), durable.MaxConcurrentTaskOrchestrationWorkItems);
        var storage = durableJson.GetProperty("storageProvider");
        Assert.Equal(storage.GetProperty("partitionCount").GetInt32(), durable.PartitionCount);
        Assert.Equal(storage.GetProperty("controlQueueBatchSize").GetInt32(), durable.ControlQueueBatchSize);
        Assert.Equal(TimeSpan.Parse(storage.GetProperty("maxQueuePollingInterval").GetString()!, null), durable.MaxQueuePollingInterval);
    }

    /// <summary>Starts a transaction and waits until it has committed; returns its id.</summary>
    private async Task<string> CommitAsync(object body)
    {
        using var started = await fixture.Client.PostAsJsonAsync("/api/transactions?waitSeconds=30", body);
        Assert.True(started.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"{(int)started.StatusCode}: {await started.Content.ReadAsStringAsync()}");
        var id = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        await Eventually.WaitAsync(
            async () => (await fixture.Client.GetFromJsonAsync<JsonElement>($"/api/transactions/{id}")).GetProperty("status").GetString() is { } s
                && (s == "Committed" || (s == "Aborted" ? throw new InvalidOperationException($"transaction {id} aborted") : false)),
            Timeout,
            $"transaction {id} to commit");
        return id;
    }

    private async Task<(long Balance, long Held)> AccountAsync(string account)
    {
        var doc = await fixture.Client.GetFromJsonAsync<JsonElement>($"/api/bank/accounts/{account}");
        return (doc.GetProperty("balance").GetInt64(), doc.GetProperty("held").GetInt64());
    }

    private static object Transfer(string id, string from, string to, long amount) => new
    {
        transactionId = id,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account = from, amount } },
            new { participant = "bank", operation = new { type = "credit", account = to, amount } },
        },
    };

    private static string Name(string hint) => $"{hint}-{Guid.NewGuid():N}";

    [GeneratedRegex(@"\{([A-Za-z0-9_]+)[^}]*\}")]
    private static partial Regex RouteParameter();
}
