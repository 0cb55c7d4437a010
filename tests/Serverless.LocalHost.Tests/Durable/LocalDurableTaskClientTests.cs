using System.Diagnostics;
using DurableTask.Core;
using DurableTask.Core.History;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.Functions.Storage;
using Serverless.LocalHost.Durable;

namespace Serverless.LocalHost.Tests.Durable;

public sealed class LocalDurableTaskClientTests(DurableClientFixture fixture) : IClassFixture<DurableClientFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The most a completed instance may go unnoticed by a client in the process whose engine completed it, which is told at
    /// once (the backend's own wait polls every 2 s). The margin is for a read from a busy Azurite.
    /// </summary>
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(1.2);

    /// <summary>The same for a client in another process, which reads the instance again every second.</summary>
    private static readonly TimeSpan PromptFromAnotherProcess = TimeSpan.FromSeconds(2.2);

    private LocalDurableTaskClient Client => fixture.Client;

    [Fact]
    public async Task Schedule_WithDedupeStatuses_RefusesASecondInstanceWithTheSameId()
    {
        var id = Id("dedupe");
        var options = new StartOrchestrationOptions(id).WithDedupeStatuses(
            OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Completed,
            OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated);
        using var timeout = new CancellationTokenSource(Timeout);

        Assert.Equal(id, await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.Echo, "first", options, timeout.Token));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.Echo, "second", options, timeout.Token));

        Assert.Contains(id, error.Message, StringComparison.Ordinal);
        var completed = await Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        Assert.Equal("first", completed.ReadOutputAs<string>());

        // Refused also once the first has completed: it is still there.
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.Echo, "third", options, timeout.Token));
        Assert.Equal("first", (await Client.GetInstanceAsync(id, getInputsAndOutputs: true, timeout.Token))!.ReadOutputAs<string>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GetInstanceAsync_OfAnUnknownId_ReturnsNull(bool getInputsAndOutputs)
    {
        Assert.Null(await Client.GetInstanceAsync(Id("unknown"), getInputsAndOutputs));
    }

    [Fact]
    public async Task GetInstanceAsync_OfAScheduledInstance_ReturnsItsNameAndInput()
    {
        var id = await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.AwaitGo, "waiting", new StartOrchestrationOptions(Id("get")));

        var instance = await Client.GetInstanceAsync(id, getInputsAndOutputs: true);

        Assert.NotNull(instance);
        Assert.Equal((id, DurableClientFixture.AwaitGo), (instance.InstanceId, instance.Name));
        Assert.Equal("waiting", instance.ReadInputAs<string>());
        Assert.False(instance.IsCompleted);
    }

    [Fact]
    public async Task RaiseEventAsync_ToAnUnknownInstance_DoesNotThrowAndCreatesNothing()
    {
        var id = Id("nobody");

        await Client.RaiseEventAsync(id, "Go", "payload");

        Assert.Null(await Client.GetInstanceAsync(id));
    }

    [Fact]
    public async Task RaiseEventAsync_ToAWaitingInstance_DeliversThePayload()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.AwaitGo, "waiting", new StartOrchestrationOptions(Id("go")), timeout.Token);
        await Client.WaitForInstanceStartAsync(id, cancellation: timeout.Token);

        await Client.RaiseEventAsync(id, "Go", "went", timeout.Token);

        var completed = await Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, completed.RuntimeStatus);
        Assert.Equal("went", completed.ReadOutputAs<string>());
    }

    [Fact]
    public async Task WaitForInstanceCompletionAsync_OfAShortOrchestration_ReturnsPromptlyAfterItCompletes()
    {
        // Three rounds: a wait that polled every 2 s would stay within the bound once in a while, hardly three times running.
        using var timeout = new CancellationTokenSource(Timeout);
        for (var round = 0; round < 3; round++)
        {
            var id = await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.Echo, "echo", new StartOrchestrationOptions(Id("short")), timeout.Token);
            var clock = Stopwatch.StartNew();

            // An observer reading the instance every 25 ms sees the completion as soon as it is readable.
            var observed = ObserveCompletionAsync(id, clock, timeout.Token);
            var completed = await Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
            var returned = clock.Elapsed;

            Assert.Equal(OrchestrationRuntimeStatus.Completed, completed.RuntimeStatus);
            Assert.Equal("echo", completed.ReadOutputAs<string>());
            var lag = returned - await observed;
            Assert.True(lag < Prompt, $"round {round}: the wait returned {lag.TotalMilliseconds:0} ms after an observer saw the instance completed");
        }
    }

    [Fact]
    public async Task WaitForInstanceCompletionAsync_OfAnInstanceAnotherProcessCompletes_ReadsItAboutOnceASecond_AndSeesTheEnd()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.AwaitGo, "unused", new StartOrchestrationOptions(Id("other")), timeout.Token);
        await Client.WaitForInstanceStartAsync(id, cancellation: timeout.Token);
        var window = TimeSpan.FromSeconds(3);

        // The engine's own table reads while nothing happens, then the same window with a wait running.
        var idle = await TableReadsDuringAsync(window, timeout.Token);
        var waiting = fixture.OtherProcessClient.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        var whileWaiting = await TableReadsDuringAsync(window, timeout.Token);
        Assert.False(waiting.IsCompleted);

        // A read at once and one a second: 3-4 in 3 s, where a backoff from 50 ms to 500 ms read 9 times.
        var reads = whileWaiting - idle;
        Assert.True(reads is >= 1 and <= 5, $"the wait read the instance about {reads} times in {window.TotalSeconds} s ({whileWaiting} reads, {idle} without it)");

        var clock = Stopwatch.StartNew();
        await Client.RaiseEventAsync(id, "Go", "went", timeout.Token);
        var observed = ObserveCompletionAsync(id, clock, timeout.Token);
        var completed = await waiting;
        var returned = clock.Elapsed;
        var lag = returned - await observed;

        Assert.Equal("went", completed.ReadOutputAs<string>());
        Assert.True(lag < PromptFromAnotherProcess, $"the wait returned {lag.TotalMilliseconds:0} ms after an observer saw the instance completed");
    }

    [Fact]
    public async Task WaitForInstanceCompletionAsync_OfACompletedInstance_ReturnsAtOnce()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.Echo, "done", new StartOrchestrationOptions(Id("done")), timeout.Token);
        await Client.WaitForInstanceCompletionAsync(id, cancellation: timeout.Token);

        var clock = Stopwatch.StartNew();
        var again = await Client.WaitForInstanceCompletionAsync(id, cancellation: timeout.Token);

        Assert.True(again.IsCompleted);
        Assert.True(clock.Elapsed < Prompt, $"took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task WaitForInstanceCompletionAsync_OfAnInstanceThatDoesNotEnd_StopsWhenCancelled()
    {
        var id = await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.AwaitGo, "never", new StartOrchestrationOptions(Id("never")));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(700));
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.WaitForInstanceCompletionAsync(id, cancellation: cancel.Token));

        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(600), TimeSpan.FromMilliseconds(700) + Prompt);
        Assert.False((await Client.GetInstanceAsync(id))!.IsCompleted);
    }

    [Fact]
    public async Task WaitForInstanceCompletionAsync_WithACancelledToken_ThrowsAtOnce()
    {
        var id = await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.AwaitGo, "never", new StartOrchestrationOptions(Id("cancelled")));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.WaitForInstanceCompletionAsync(id, cancellation: new CancellationToken(canceled: true)));
    }

    [Fact]
    public async Task GetOrchestrationHistoryAsync_OfACompletedInstance_ReturnsItsEventsInOrder_FromStartToCompletion()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.Echo, "remembered", new StartOrchestrationOptions(Id("history")), timeout.Token);
        await Client.WaitForInstanceCompletionAsync(id, cancellation: timeout.Token);

        var history = await Client.GetOrchestrationHistoryAsync(id, timeout.Token);

        var started = Assert.IsType<ExecutionStartedEvent>(history.First(e => e.EventType != EventType.OrchestratorStarted));
        Assert.Equal((DurableClientFixture.Echo, "\"remembered\""), (started.Name, started.Input));
        var completed = Assert.IsType<ExecutionCompletedEvent>(history.Last(e => e.EventType != EventType.OrchestratorCompleted));
        Assert.Equal((OrchestrationStatus.Completed, "\"remembered\""), (completed.OrchestrationStatus, completed.Result));
        Assert.All(history, e => Assert.NotEqual(default, e.Timestamp));
    }

    [Fact]
    public async Task GetOrchestrationHistoryAsync_OfAnUnknownInstance_IsEmpty()
    {
        Assert.Empty(await Client.GetOrchestrationHistoryAsync(Id("unknown")));
    }

    [Fact]
    public async Task TerminateInstanceAsync_OfAWaitingInstance_EndsItTerminated_WithTheOutputGiven()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var id = await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.AwaitGo, "waiting", new StartOrchestrationOptions(Id("terminate")), timeout.Token);
        await Client.WaitForInstanceStartAsync(id, cancellation: timeout.Token);

        await Client.TerminateInstanceAsync(id, new TerminateInstanceOptions("enough"), timeout.Token);

        var ended = await Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, ended.RuntimeStatus);
        Assert.Equal("enough", ended.ReadOutputAs<string>());
    }

    [Fact]
    public async Task PurgeInstanceAsync_RefusesARunningInstance_PurgesACompletedOne_AndFindsNothingOfAnUnknownOne()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var running = await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.AwaitGo, "waiting", new StartOrchestrationOptions(Id("running")), timeout.Token);
        var done = await Client.ScheduleNewOrchestrationInstanceAsync(DurableClientFixture.Echo, "done", new StartOrchestrationOptions(Id("done")), timeout.Token);
        await Client.WaitForInstanceStartAsync(running, cancellation: timeout.Token);
        await Client.WaitForInstanceCompletionAsync(done, cancellation: timeout.Token);

        await Assert.ThrowsAsync<InvalidOperationException>(() => Client.PurgeInstanceAsync(running, cancellation: timeout.Token));
        Assert.Equal(1, (await Client.PurgeInstanceAsync(done, cancellation: timeout.Token)).PurgedInstanceCount);
        Assert.Equal(0, (await Client.PurgeInstanceAsync(Id("unknown"), cancellation: timeout.Token)).PurgedInstanceCount);

        Assert.Null(await Client.GetInstanceAsync(done, cancellation: timeout.Token));
        Assert.Empty(await Client.GetOrchestrationHistoryAsync(done, timeout.Token));
        Assert.NotNull(await Client.GetInstanceAsync(running, cancellation: timeout.Token));
    }

    private async Task<TimeSpan> ObserveCompletionAsync(string id, Stopwatch clock, CancellationToken cancellationToken)
    {
        while (await Client.GetInstanceAsync(id, cancellation: cancellationToken) is not { IsCompleted: true })
        {
            await Task.Delay(TimeSpan.FromMilliseconds(25), cancellationToken);
        }

        return clock.Elapsed;
    }

    private async Task<long> TableReadsDuringAsync(TimeSpan window, CancellationToken cancellationToken)
    {
        var before = fixture.Metrics.Snapshot()[StorageOperation.TableRead];
        await Task.Delay(window, cancellationToken);
        return fixture.Metrics.Snapshot()[StorageOperation.TableRead] - before;
    }

    private static string Id(string hint) => $"{hint}-{Guid.NewGuid():N}";
}
