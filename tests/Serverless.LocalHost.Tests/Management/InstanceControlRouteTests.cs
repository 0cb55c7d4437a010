using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Management;

/// <summary>
/// POST of the Durable management API on the local host running the coordinator app: terminate, suspend and resume, and
/// raise event, with the Functions host's answers (202, 404 unknown, 410 ended, 400 for a body that is not JSON).
/// </summary>
[Collection(ManagementHostCollection.Name)]
public sealed class InstanceControlRouteTests(HostFixture fixture)
{
    private ManagementCalls Calls => new(fixture.Host);

    [Fact]
    public async Task TerminateOfARunningInstance_Is202_ThenItIsTerminatedWithTheReasonAsItsOutput()
    {
        var id = await Calls.StartGhostAsync("terminated");
        await Calls.WaitForRuntimeStatusAsync(id, "Running");

        using var terminate = await Calls.PostAsync(id, "/terminate?reason=stuck%20on%20ghost");
        var (code, document) = await Calls.WaitForRuntimeStatusAsync(id, "Terminated");

        Assert.Equal(HttpStatusCode.Accepted, terminate.StatusCode);
        Assert.Empty(await terminate.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("stuck on ghost", document.GetProperty("output").GetString());
    }

    [Fact]
    public async Task TerminateOfACompletedInstance_Is410Gone_AndOfAnUnknownOne404()
    {
        var id = await Calls.CommitAsync("ended");

        using var completed = await Calls.PostAsync(id, "/terminate?reason=late");
        using var unknown = await Calls.PostAsync(TestHost.Id("unknown"), "/terminate");
        using var status = await Calls.StatusAsync(id);

        Assert.Equal((HttpStatusCode.Gone, HttpStatusCode.NotFound), (completed.StatusCode, unknown.StatusCode));
        Assert.Equal("Completed", (await status.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runtimeStatus").GetString());
    }

    [Fact]
    public async Task SuspendThenResume_AreAccepted_AndTheInstanceIsSuspendedThenRunningAgain()
    {
        var id = await Calls.StartGhostAsync("suspended");
        await Calls.WaitForRuntimeStatusAsync(id, "Running");

        using var suspend = await Calls.PostAsync(id, "/suspend?reason=inspection");
        var (suspendedCode, _) = await Calls.WaitForRuntimeStatusAsync(id, "Suspended");
        using var resume = await Calls.PostAsync(id, "/resume?reason=done");
        await Calls.WaitForRuntimeStatusAsync(id, "Running");

        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.Accepted), (suspend.StatusCode, suspendedCode, resume.StatusCode));
    }

    [Fact]
    public async Task RaiseEventAbort_ToATransactionWhoseParticipantNeverVotes_ReachesItsOrchestration_WhichDecidesAbort()
    {
        var id = await Calls.StartGhostAsync("abort-event");
        await Calls.WaitForRuntimeStatusAsync(id, "Running");

        // The app's own abort event, as POST /api/transactions/{id}/abort raises it.
        using var raised = await Calls.RaiseAsync(id, "Abort", """{"Reason":"stopped by an operator"}""");

        // The orchestration's own view (its custom status) shows the decision: the event reached it.
        await Eventually.WaitAsync(
            async () => Decision((await Calls.WaitForRuntimeStatusAsync(id, "Running")).Document.GetProperty("customStatus")) == "Abort",
            ManagementCalls.Wait,
            "the orchestration to decide Abort");
        var transaction = await fixture.Host.GetStatusAsync(id);

        Assert.Equal(HttpStatusCode.Accepted, raised.StatusCode);
        Assert.Equal("Abort", transaction.GetProperty("decision").GetString());
        Assert.Contains("stopped by an operator", transaction.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RaiseEventToAnUnknownInstance_Is404_AndToACompletedOne410()
    {
        var completed = await Calls.CommitAsync("raised-late");

        using var unknown = await Calls.RaiseAsync(TestHost.Id("unknown"), "Abort", "{}");
        using var ended = await Calls.RaiseAsync(completed, "Abort", "{}");

        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.Gone), (unknown.StatusCode, ended.StatusCode));
    }

    [Theory]
    [InlineData("{\"Reason\":", "application/json")]
    [InlineData("", "application/json")]
    [InlineData("{\"Reason\":\"x\"}", "text/plain")]
    [InlineData("Reason=x", "application/x-www-form-urlencoded")]
    public async Task RaiseEventWithABodyThatIsNotJson_Is400_AndNothingIsRaised(string body, string contentType)
    {
        var id = await Calls.StartGhostAsync("bad-event");
        await Calls.WaitForRuntimeStatusAsync(id, "Running");

        using var refused = await Calls.PostAsync(id, "/raiseEvent/Abort", new StringContent(body, Encoding.UTF8, contentType));
        var message = await refused.Content.ReadFromJsonAsync<JsonElement>();
        var transaction = await fixture.Host.GetStatusAsync(id);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.False(string.IsNullOrEmpty(message.GetProperty("Message").GetString()));
        Assert.Equal(JsonValueKind.Null, transaction.GetProperty("decision").ValueKind);
    }

    [Theory]
    [InlineData("rewind")]
    [InlineData("restart")]
    public async Task RewindAndRestart_Are501NotImplemented(string operation)
    {
        var id = await Calls.CommitAsync(operation);

        using var response = await Calls.PostAsync(id, $"/{operation}");

        Assert.Equal(HttpStatusCode.NotImplemented, response.StatusCode);
    }

    // The custom status as the SDK's converter wrote it (its .NET names).
    private static string? Decision(JsonElement customStatus) =>
        customStatus.EnumerateObject().Single(p => p.Name.Equals("decision", StringComparison.OrdinalIgnoreCase)).Value.GetString();
}
