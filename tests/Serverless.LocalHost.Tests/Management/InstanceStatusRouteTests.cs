using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Serverless.LocalHost.Management;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Management;

/// <summary>
/// GET and DELETE of the Durable management API on the local host running the coordinator app: an instance's status as the
/// Functions host answers it (202 while running, 200 once ended, 404 unknown), its history, the listing, and purge.
/// </summary>
[Collection(ManagementHostCollection.Name)]
public sealed partial class InstanceStatusRouteTests(HostFixture fixture)
{
    private ManagementCalls Calls => new(fixture.Host);

    [Fact]
    public async Task TheStatusOfARunningInstance_Is202_WithLocationRetryAfterAndItsDocument()
    {
        var id = await Calls.StartGhostAsync("running");
        await Calls.WaitForRuntimeStatusAsync(id, "Running");

        using var response = await Calls.StatusAsync(id, "?showInput=true");
        var document = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(new Uri(Calls.Client.BaseAddress!, ManagementCalls.Instance(id, "?showInput=true")), response.Headers.Location);
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
        Assert.Equal(("TwoPhaseCommit", id, "Running"), (Text(document, "name"), Text(document, "instanceId"), Text(document, "runtimeStatus")));
        Assert.Equal(id, Field(document.GetProperty("input"), "id"));
        Assert.Equal("Preparing", Field(document.GetProperty("customStatus"), "status"));
        Assert.Equal(JsonValueKind.Null, document.GetProperty("output").ValueKind);
        Assert.Matches(IsoSecond(), Text(document, "createdTime"));
        Assert.Matches(IsoSecond(), Text(document, "lastUpdatedTime"));
        Assert.False(document.TryGetProperty("historyEvents", out _));
    }

    [Fact]
    public async Task TheStatusOfACompletedInstance_Is200_WithItsCustomStatusAndOutput_AndNoInputWhenNotShown()
    {
        var id = await Calls.CommitAsync("completed");

        using var response = await Calls.StatusAsync(id, "?showInput=false");
        var document = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Equal("Completed", Text(document, "runtimeStatus"));
        Assert.Equal(("Committed", "Commit"), (Field(document.GetProperty("customStatus"), "status"), Field(document.GetProperty("customStatus"), "decision")));
        Assert.Equal("Committed", Field(document.GetProperty("output"), "status"));
        Assert.Equal(JsonValueKind.Null, document.GetProperty("input").ValueKind);
    }

    [Fact]
    public async Task TheStatusWithShowHistory_ListsEachActivityOnceWithItsNameAndScheduledTime_AndOutputsOnlyWhenAsked()
    {
        var id = await Calls.CommitAsync("history");

        var withOutputs = await Calls.Client.GetFromJsonAsync<JsonElement>(ManagementCalls.Instance(id, "?showHistory=true&showHistoryOutput=true"));
        var withoutOutputs = await Calls.Client.GetFromJsonAsync<JsonElement>(ManagementCalls.Instance(id, "?showHistory=true"));

        var events = withOutputs.GetProperty("historyEvents").EnumerateArray().ToList();
        Assert.Equal(("ExecutionStarted", "TwoPhaseCommit"), (Text(events[0], "EventType"), Text(events[0], "FunctionName")));
        Assert.Equal(("ExecutionCompleted", "Completed"), (Text(events[^1], "EventType"), Text(events[^1], "OrchestrationStatus")));
        Assert.Equal("Committed", Field(events[^1].GetProperty("Result"), "status"));
        Assert.DoesNotContain(events, e => Text(e, "EventType") is "OrchestratorStarted" or "OrchestratorCompleted" or "TaskScheduled");
        Assert.DoesNotContain(events, e => e.TryGetProperty("EventId", out _) || e.TryGetProperty("IsPlayed", out _));
        var activities = events.Where(e => Text(e, "EventType") == "TaskCompleted").ToList();
        Assert.Equal(2, activities.Count(e => Text(e, "FunctionName") == "Prepare"));

        // Each completed activity of the history once, named: two commits, or three when the test host's 1 s phase-2 retry
        // sent one again before its acknowledgement came back on a loaded machine.
        var completedInHistory = 0;
        await foreach (var row in fixture.Host.Table($"{fixture.Host.TaskHub}History").QueryAsync<Azure.Data.Tables.TableEntity>(e => e.PartitionKey == id))
        {
            completedInHistory += row.GetString("EventType") == "TaskCompleted" ? 1 : 0;
        }

        Assert.Equal(completedInHistory, activities.Count);
        Assert.Equal(activities.Count - 2, activities.Count(e => Text(e, "FunctionName") == "Commit"));
        Assert.InRange(activities.Count - 2, 2, 4);
        Assert.All(activities, e => Assert.True(e.TryGetProperty("ScheduledTime", out _) && e.TryGetProperty("Result", out _), e.ToString()));
        Assert.DoesNotContain(withoutOutputs.GetProperty("historyEvents").EnumerateArray(), e => e.TryGetProperty("Result", out _));
    }

    [Fact]
    public async Task TheStatusOfAnUnknownInstance_Is404()
    {
        using var response = await Calls.StatusAsync(TestHost.Id("unknown"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task PurgeOfACompletedInstance_Is200WithOneInstanceDeleted_ThenTheInstanceIsNotFound()
    {
        var id = await Calls.CommitAsync("purged");

        using var purged = await Calls.PurgeAsync(id);
        var answer = await purged.Content.ReadAsStringAsync();
        using var status = await Calls.StatusAsync(id);
        using var again = await Calls.PurgeAsync(id);

        Assert.Equal(HttpStatusCode.OK, purged.StatusCode);
        Assert.Equal("""{"instancesDeleted":1}""", answer);
        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.NotFound), (status.StatusCode, again.StatusCode));
    }

    [Fact]
    public async Task PurgeOfARunningInstance_Is412_AndTheInstanceRuns()
    {
        var id = await Calls.StartGhostAsync("not-purged");
        await Calls.WaitForRuntimeStatusAsync(id, "Running");

        using var refused = await Calls.PurgeAsync(id);
        var reason = await refused.Content.ReadFromJsonAsync<string>();
        using var status = await Calls.StatusAsync(id);

        Assert.Equal(HttpStatusCode.PreconditionFailed, refused.StatusCode);
        Assert.Contains("terminal state", reason, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Accepted, status.StatusCode);
    }

    [Fact]
    public async Task TheListing_FiltersByPrefixAndStatus_AndPagesWithTheContinuationHeader()
    {
        var prefix = $"list{Guid.NewGuid():N}"[..16];
        var running = await Calls.StartGhostAsync($"{prefix}-a");
        await Calls.StartGhostAsync($"{prefix}-b");
        var completed = await Calls.CommitAsync($"{prefix}-c");
        await Calls.WaitForRuntimeStatusAsync(running, "Running");

        var (found, pages) = (new List<JsonElement>(), 0);
        string? token = null;
        do
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"{ManagementCalls.Instances}?instanceIdPrefix={prefix}&top=1");
            if (token is not null)
            {
                request.Headers.Add(ManagementApi.ContinuationHeader, token);
            }

            using var page = await Calls.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var items = await page.Content.ReadFromJsonAsync<List<JsonElement>>();
            Assert.InRange(items!.Count, 0, 1);
            found.AddRange(items);
            token = page.Headers.TryGetValues(ManagementApi.ContinuationHeader, out var next) ? next.Single() : null;
        }
        while (token is not null && ++pages < 20);
        var onlyCompleted = await Calls.Client.GetFromJsonAsync<List<JsonElement>>($"{ManagementCalls.Instances}/?instanceIdPrefix={prefix}&runtimeStatus=Completed,Failed");

        Assert.Equal(3, found.Select(i => Text(i, "instanceId")).Distinct().Count());
        Assert.All(found, i => Assert.StartsWith(prefix, Text(i, "instanceId"), StringComparison.Ordinal));
        Assert.Equal([completed], onlyCompleted!.Select(i => Text(i, "instanceId")));
        Assert.Equal("Committed", Field(onlyCompleted![0].GetProperty("customStatus"), "status"));
    }

    [Fact]
    public async Task ATaskHubOrConnectionOtherThanTheHosts_Is400_WithTheFunctionsHostsMessageBody()
    {
        var id = await Calls.CommitAsync("hub");

        using var otherHub = await Calls.StatusAsync(id, "?taskHub=SomeOtherHub");
        using var otherConnection = await Calls.StatusAsync(id, "?connection=SomeOtherStorage");
        using var own = await Calls.StatusAsync(id, $"?taskHub={fixture.Host.TaskHub}&connection=Storage");

        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.OK), (otherHub.StatusCode, otherConnection.StatusCode, own.StatusCode));
        Assert.Contains(fixture.Host.TaskHub, Text(await otherHub.Content.ReadFromJsonAsync<JsonElement>(), "Message"), StringComparison.Ordinal);
    }

    private static string? Text(JsonElement element, string property) => element.GetProperty(property).GetString();

    /// <summary>A string property of what the app serialized (the SDK's converter keeps its .NET names), whatever its case.</summary>
    private static string? Field(JsonElement element, string property) =>
        element.EnumerateObject().Single(p => p.Name.Equals(property, StringComparison.OrdinalIgnoreCase)).Value.GetString();

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")]
    private static partial Regex IsoSecond();
}
