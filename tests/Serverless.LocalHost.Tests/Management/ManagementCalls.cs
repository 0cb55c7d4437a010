using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.LocalHost.Management;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Management;

/// <summary>
/// The Durable management routes of a <see cref="TestHost"/> running the coordinator app, and the transactions the tests
/// drive them with: one that never ends by itself (its participant, <c>ghost</c>, is named in the host's settings and served
/// by no one, and its vote deadline is an hour away), and a committed transfer.
/// </summary>
internal sealed class ManagementCalls(TestHost host)
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    public HttpClient Client => host.Client;

    public static string Instances => $"{ManagementApi.BasePath}/instances";

    public static string Instance(string id, string rest = "") => $"{Instances}/{Uri.EscapeDataString(id)}{rest}";

    public Task<HttpResponseMessage> StatusAsync(string id, string query = "") => Client.GetAsync(Instance(id, query));

    public Task<HttpResponseMessage> PostAsync(string id, string operation, HttpContent? content = null) => Client.PostAsync(Instance(id, operation), content);

    public Task<HttpResponseMessage> RaiseAsync(string id, string eventName, string json) =>
        PostAsync(id, $"/raiseEvent/{eventName}", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    public Task<HttpResponseMessage> PurgeAsync(string id) => Client.DeleteAsync(Instance(id));

    /// <summary>Reads the status until its <c>runtimeStatus</c> is <paramref name="runtimeStatus"/>; returns the answer's code and document.</summary>
    public async Task<(HttpStatusCode Code, JsonElement Document)> WaitForRuntimeStatusAsync(string id, string runtimeStatus, string query = "")
    {
        var answer = await Eventually.WaitAsync(
            async () =>
            {
                using var response = await StatusAsync(id, query);
                return response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted
                    ? new Answer(response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>())
                    : new Answer(response.StatusCode, default);
            },
            a => a.Document.ValueKind == JsonValueKind.Object && a.Document.GetProperty("runtimeStatus").GetString() == runtimeStatus,
            Wait,
            $"instance {id} to be {runtimeStatus}");
        return (answer.Code, answer.Document);
    }

    /// <summary>Starts a transaction of two <c>ghost</c> branches, which never vote: it stays Preparing until told otherwise.</summary>
    public async Task<string> StartGhostAsync(string hint)
    {
        var id = TestHost.Id(hint);
        using var started = await host.StartAsync(new
        {
            transactionId = id,
            timeoutSeconds = 3600,
            participants = new object[]
            {
                new { participant = "ghost", operation = new { step = 1 } },
                new { participant = "ghost", operation = new { step = 2 } },
            },
        });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        return id;
    }

    /// <summary>Commits a transfer between two new accounts and waits for its orchestration to complete.</summary>
    public async Task<string> CommitAsync(string hint)
    {
        var (id, from, to) = (TestHost.Id(hint), TestHost.Id("from"), TestHost.Id("to"));
        Assert.True((await host.PutAccountAsync(from, 100)).IsSuccessStatusCode);
        Assert.True((await host.PutAccountAsync(to, 0)).IsSuccessStatusCode);
        using var started = await host.StartAsync(TestHost.Transfer(id, from, to, 30), waitSeconds: 30);
        Assert.Equal(HttpStatusCode.OK, started.StatusCode);
        Assert.Equal("Committed", (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        await WaitForRuntimeStatusAsync(id, "Completed");
        return id;
    }

    private sealed record Answer(HttpStatusCode Code, JsonElement Document);
}
