using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Functions.CustomHandler;
using Serverless.Functions.Hosting;
using Serverless.Runtime.Storage;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>The app as an Azure Functions custom handler: the host's invocation contract, and the published layout.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class CustomHandlerTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Transaction_DrivenOnlyByHostInvocations_Commits()
    {
        await using var app = await CustomHandlerApp.StartAsync(azurite.ConnectionString);
        await app.Client.PutAsJsonAsync("/api/bank/accounts/alice", new { balance = 100 });
        await app.Client.PutAsJsonAsync("/api/bank/accounts/bob", new { balance = 0 });

        var start = await app.Client.PostAsJsonAsync("/api/transactions", TestHost.Transfer("ch-commit", "alice", "bob", 40));
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        await app.Host.PumpUntilAsync(async () => await StatusAsync(app.Client, "ch-commit") == "Committed", Wait);

        Assert.Equal(100 - 40, (await app.Client.GetFromJsonAsync<JsonElement>("/api/bank/accounts/alice")).GetProperty("balance").GetInt64());
        Assert.Equal(40, (await app.Client.GetFromJsonAsync<JsonElement>("/api/bank/accounts/bob")).GetProperty("balance").GetInt64());
        Assert.All(app.Host.Invocations, i => Assert.Equal(200, i.Status));

        // Two prepares, then one commit: the branch whose vote decided commits in the same invocation, and the votes
        // and acknowledgements are applied in-process, so only timers would ever invoke the coordinator.
        Assert.Equal(3, app.Host.Invocations.Count(i => i.Function == "Participant-bank"));
        Assert.All(app.Host.Invocations, i =>
        {
            Assert.Equal(JsonValueKind.Object, i.Response.GetProperty("Outputs").ValueKind);
            Assert.Equal(JsonValueKind.Array, i.Response.GetProperty("Logs").ValueKind);
            Assert.True(i.Response.TryGetProperty("ReturnValue", out _));
        });
    }

    [Fact]
    public async Task Transaction_DrivenOnlyByHostInvocations_Aborts()
    {
        await using var app = await CustomHandlerApp.StartAsync(azurite.ConnectionString);
        await app.Client.PutAsJsonAsync("/api/bank/accounts/alice", new { balance = 10 });
        await app.Client.PutAsJsonAsync("/api/bank/accounts/bob", new { balance = 0 });

        await app.Client.PostAsJsonAsync("/api/transactions", TestHost.Transfer("ch-abort", "alice", "bob", 40));
        await app.Host.PumpUntilAsync(async () => await StatusAsync(app.Client, "ch-abort") == "Aborted", Wait);

        var alice = await app.Client.GetFromJsonAsync<JsonElement>("/api/bank/accounts/alice");
        Assert.Equal(10, alice.GetProperty("balance").GetInt64());
        Assert.Equal(0, alice.GetProperty("held").GetInt64());
    }

    [Fact]
    public async Task FailingInvocation_Answers500_AndSucceedsWhenTheHostRetries()
    {
        await using var app = await CustomHandlerApp.StartAsync(azurite.ConnectionString);
        await app.Client.PutAsJsonAsync("/api/bank/accounts/alice", new { balance = 100 });
        await app.Client.PutAsJsonAsync("/api/bank/accounts/bob", new { balance = 0 });
        await app.Client.PostAsJsonAsync("/api/transactions", TestHost.Transfer("ch-retry", "alice", "bob", 5));
        // Deliver the prepares and stop as soon as Commit is decided: the branch whose vote decided has committed in
        // that invocation, the other one's commit is still queued.
        await Eventually.WaitAsync(async () =>
        {
            if (await StatusAsync(app.Client, "ch-retry") == "Committing")
            {
                return true;
            }

            await app.Host.PumpOnceAsync(FunctionCatalog.ParticipantFunction("bank"));
            return false;
        }, Wait, "Commit decided");
        var pending = (await app.Client.GetFromJsonAsync<JsonElement>("/api/transactions/ch-retry")).GetProperty("participants")
            .EnumerateArray().Select((b, i) => (Index: i, Outcome: b.GetProperty("outcome").GetString())).Single(b => b.Outcome is null).Index;
        var account = pending == 0 ? "alice" : "bob";

        // The pending branch's account row vanishes before its commit: the commit cannot be applied and must fail, not be acknowledged.
        var accounts = new TableClient(azurite.ConnectionString, app.Names.ParticipantTable("BankAccounts"));
        var row = (await accounts.GetEntityAsync<TableEntity>(account, "account")).Value;
        await accounts.DeleteEntityAsync(account, "account");
        await app.Host.PumpOnceAsync(FunctionCatalog.ParticipantFunction("bank"));
        Assert.Contains(app.Host.Invocations, i => i.Function == "Participant-bank" && i.Status == 500);
        Assert.Equal("Committing", await StatusAsync(app.Client, "ch-retry"));

        await accounts.AddEntityAsync(row);
        await app.Host.PumpUntilAsync(async () => await StatusAsync(app.Client, "ch-retry") == "Committed", Wait);
        Assert.Equal((95, 0), await TestHost.GetAccountAsync(app.Client, "alice"));
        Assert.Equal((5, 0), await TestHost.GetAccountAsync(app.Client, "bob"));
    }

    [Fact]
    public async Task UntrustworthyMessage_IsAnswered200_AndCopiedToThePoisonQueueUnacted()
    {
        await using var app = await CustomHandlerApp.StartAsync(azurite.ConnectionString);

        var response = await app.Client.PostAsJsonAsync("/Coordinator", new Dictionary<string, object>
        {
            ["Data"] = new Dictionary<string, object> { ["message"] = "{\"body\":{\"v\":9}}" },
            ["Metadata"] = new Dictionary<string, object> { ["DequeueCount"] = 1, ["Id"] = "m1" },
        });
        var notAnInvocation = await app.Client.PostAsync("/Coordinator", new StringContent("[]"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("poison", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("Logs")[0].GetString(), StringComparison.Ordinal);
        var poison = new Azure.Storage.Queues.QueueClient(azurite.ConnectionString, app.Names.CoordinatorQueue + "-poison",
            new Azure.Storage.Queues.QueueClientOptions { MessageEncoding = Azure.Storage.Queues.QueueMessageEncoding.Base64 });
        Assert.Equal("{\"body\":{\"v\":9}}", (await poison.PeekMessagesAsync(1)).Value[0].Body.ToString());
        Assert.Equal(HttpStatusCode.BadRequest, notAnInvocation.StatusCode);
    }

    [Fact]
    public async Task CatalogHttpFunctions_MatchTheRoutesTheAppServes()
    {
        await using var host = await TestHost.StartAsync(azurite.ConnectionString, new Dictionary<string, string?> { ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory" });
        var served = host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => $"{m} /{e.RoutePattern.RawText!.TrimStart('/').TrimEnd('/')}"))
            .ToHashSet();

        var catalog = FunctionCatalog.For(["bank", "inventory"], new StorageNames());

        foreach (var function in catalog.Where(f => !f.IsQueueTriggered))
        {
            foreach (var method in function.Methods!)
            {
                Assert.Contains($"{method} /api/{function.Route}", served);
            }
        }

        Assert.Equal(served.Count, catalog.Where(f => !f.IsQueueTriggered).Sum(f => f.Methods!.Count));
    }

    [Fact]
    public async Task Publish_YieldsADeployableCustomHandlerThatServesHostInvocations()
    {
        var output = Path.Combine(Path.GetTempPath(), "publish-" + TestNames.UniquePrefix());
        try
        {
            var publish = await RunAsync("dotnet", $"publish src/Serverless.Functions -c Release -o \"{output}\" --nologo -v quiet", RepositoryRoot.Find());
            Assert.True(publish.ExitCode == 0, publish.Output);

            var hostJson = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "host.json")))!;
            Assert.Equal("Serverless.Functions", hostJson["customHandler"]!["description"]!["defaultExecutablePath"]!.GetValue<string>());
            Assert.True(hostJson["customHandler"]!["enableForwardingHttpRequest"]!.GetValue<bool>());
            Assert.Equal(5, hostJson["extensions"]!["queues"]!["maxDequeueCount"]!.GetValue<int>());
            Assert.True(File.Exists(Path.Combine(output, "Serverless.Functions")));
            var expected = FunctionCatalog.For(["bank", "inventory", "orders"], new StorageNames());
            var written = Directory.GetFiles(output, "function.json", SearchOption.AllDirectories).Select(f => Path.GetFileName(Path.GetDirectoryName(f))).Order().ToList();
            Assert.Equal(expected.Select(f => f.Name).Order(), written);
            var coordinator = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "Coordinator", "function.json")))!["bindings"]![0]!;
            Assert.Equal("queueTrigger", coordinator["type"]!.GetValue<string>());
            Assert.Equal("tx-coordinator", coordinator["queueName"]!.GetValue<string>());
            var start = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "StartTransaction", "function.json")))!["bindings"]![0]!;
            Assert.Equal("transactions", start["route"]!.GetValue<string>());

            // Run the published executable the way the Functions host does, and drive a transaction through it.
            var prefix = TestNames.UniquePrefix();
            var port = FreePort.Get();
            var info = new ProcessStartInfo(Path.Combine(output, "Serverless.Functions")) { WorkingDirectory = output };
            info.Environment["FUNCTIONS_CUSTOMHANDLER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            info.Environment["AzureWebJobsStorage"] = azurite.ConnectionString;
            info.Environment["TRANSACTIONS_STORAGE_PREFIX"] = prefix;
            info.Environment["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory";
            await using var process = ChildProcess.Start(info);
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await Eventually.WaitAsync(async () =>
            {
                try
                {
                    return (await client.GetAsync("/api/health")).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, Wait, "the published handler healthy");
            await client.PutAsJsonAsync("/api/bank/accounts/alice", new { balance = 10 });
            await client.PutAsJsonAsync("/api/bank/accounts/bob", new { balance = 0 });
            await client.PostAsJsonAsync("/api/transactions", TestHost.Transfer("published-1", "alice", "bob", 10));
            var names = new StorageNames(prefix);
            var simulator = new FunctionsHostSimulator(client, azurite.ConnectionString, new Dictionary<string, string>
            {
                [names.CoordinatorQueue] = "Coordinator",
                [names.ParticipantQueue("bank")] = "Participant-bank",
            });
            await simulator.PumpUntilAsync(async () => await StatusAsync(client, "published-1") == "Committed", Wait);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    private static async Task<string?> StatusAsync(HttpClient client, string id)
    {
        var response = await client.GetAsync($"/api/transactions/{id}");
        return response.IsSuccessStatusCode ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString() : null;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string arguments, string directory)
    {
        await using var process = ChildProcess.Start(new ProcessStartInfo(file, arguments) { WorkingDirectory = directory });
        Assert.True(await process.WaitForExitAsync(TimeSpan.FromMinutes(5)), "publish did not finish in 5 minutes");
        return (process.ExitCode ?? -1, process.Output);
    }

    /// <summary>The app in custom-handler mode (no queue listeners of its own), with a simulated Functions host.</summary>
    private sealed class CustomHandlerApp(TestHost app, FunctionsHostSimulator host) : IAsyncDisposable
    {
        public HttpClient Client => app.Client;

        public StorageNames Names => app.Names;

        public FunctionsHostSimulator Host => host;

        public static async Task<CustomHandlerApp> StartAsync(string connectionString)
        {
            var app = await TestHost.StartAsync(connectionString, new Dictionary<string, string?> { ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory" }, customHandler: true);
            var names = app.Names;
            var simulator = new FunctionsHostSimulator(app.Client, connectionString, new Dictionary<string, string>
            {
                [names.CoordinatorQueue] = FunctionCatalog.CoordinatorFunction,
                [names.ParticipantQueue("bank")] = FunctionCatalog.ParticipantFunction("bank"),
                [names.ParticipantQueue("inventory")] = FunctionCatalog.ParticipantFunction("inventory"),
            });
            return new CustomHandlerApp(app, simulator);
        }

        public ValueTask DisposeAsync() => app.DisposeAsync();
    }
}
