using System.Diagnostics;
using System.Globalization;
using DurableTask.AzureStorage;
using DurableTask.Core;
using DurableTask.Core.Exceptions;
using DurableTask.Core.History;
using DurableTask.Core.Tracing;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using CoreQuery = DurableTask.Core.Query.OrchestrationQuery;
using CoreStatus = DurableTask.Core.OrchestrationStatus;
using OrchestrationQuery = Microsoft.DurableTask.Client.OrchestrationQuery;
using PurgeResult = Microsoft.DurableTask.Client.PurgeResult;

namespace Serverless.LocalHost.Durable;

/// <summary>
/// The <see cref="DurableTaskClient"/> the local host hands to functions (<c>[DurableClient]</c>): a thin adapter over the
/// Azure Storage backend's own client interface, on the same task hub as the worker, with the SDK's JSON data converter
/// (System.Text.Json) on both sides.
/// </summary>
/// <remarks>
/// Chosen over the SDK's gRPC sidecar (<c>TaskHubGrpcServer</c> from a preview testing package): no preview dependency, no
/// second port, no gRPC hop per call. Waiting for a start polls the instance row with a short backoff (50 ms to 500 ms)
/// instead of the backend's fixed 2 s. Waiting for completion wakes at once when this process's engine completes the
/// instance; the instance row is read once first, and then only every <see cref="CompletionPoll"/>, for an instance that
/// another process completes (scale-out): reads on a shorter backoff cost about 4 table reads per transaction at 8
/// concurrent transactions, and answered nothing the notification does not.
/// </remarks>
public sealed class LocalDurableTaskClient(AzureStorageOrchestrationService service, DataConverter dataConverter, InstanceCompletions completions)
    : DurableTaskClient("local")
{
    private static readonly TimeSpan FirstPoll = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LongestPoll = TimeSpan.FromMilliseconds(500);

    /// <summary>How often a wait for completion reads the instance row again: the Functions host's own status polling interval.</summary>
    private static readonly TimeSpan CompletionPoll = TimeSpan.FromSeconds(1);

    public override async Task<string> ScheduleNewOrchestrationInstanceAsync(
        TaskName orchestratorName, object? input = null, StartOrchestrationOptions? options = null, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        var instance = new OrchestrationInstance
        {
            InstanceId = options?.InstanceId ?? Guid.NewGuid().ToString("N"),
            ExecutionId = Guid.NewGuid().ToString("N"),
        };
        var message = new TaskMessage
        {
            OrchestrationInstance = instance,
            Event = new ExecutionStartedEvent(-1, dataConverter.Serialize(input))
            {
                Name = orchestratorName.Name,
                Version = options?.Version ?? string.Empty,
                OrchestrationInstance = instance,
                ScheduledStartTime = options?.StartAt?.UtcDateTime,
                Tags = options?.Tags?.ToDictionary(t => t.Key, t => t.Value) ?? [],

                // The caller's span becomes the parent of the orchestration's spans (DurableTask.Core's tracing), as the
                // Durable Functions client does: one trace from the start request to the last activity.
                ParentTraceContext = Activity.Current is { IdFormat: ActivityIdFormat.W3C, Id: { } traceParent } current
                    ? new DistributedTraceContext(traceParent, current.TraceStateString)
                    : null,
            },
        };
        CoreStatus[]? dedupe = options?.DedupeStatuses is { Count: > 0 } statuses
            ? [.. statuses.Select(s => Enum.Parse<OrchestrationRuntimeStatus>(s, ignoreCase: true)).Select(ToCore)]
            : null;
        try
        {
            // The caller's token bounds the wait (an API request's budget): the backend's own retries against storage that
            // hangs last far longer. A start abandoned that way may still be created later, as any start whose answer was lost.
            await service.CreateTaskOrchestrationAsync(message, dedupe).WaitAsync(cancellation);
        }
        catch (OrchestrationAlreadyExistsException ex)
        {
            throw new InvalidOperationException($"An orchestration with instance id '{instance.InstanceId}' already exists.", ex);
        }

        return instance.InstanceId;
    }

    /// <remarks>
    /// The event is sent whether or not the instance exists or still runs, as on every backend: one that does not exist never
    /// sees it, one that ended discards it. A caller that must tell those apart reads the instance first (the management API's
    /// 404 and 410).
    /// </remarks>
    public override Task RaiseEventAsync(string instanceId, string eventName, object? eventPayload = null, CancellationToken cancellation = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        return SendAsync(instanceId, new EventRaisedEvent(-1, dataConverter.Serialize(eventPayload)) { Name = eventName }, cancellation);
    }

    public override Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) =>
        SendAsync(instanceId, new ExecutionSuspendedEvent(-1, reason), cancellation);

    public override Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) =>
        SendAsync(instanceId, new ExecutionResumedEvent(-1, reason), cancellation);

    /// <remarks>
    /// The output (a reason, say) becomes the terminated instance's output. Like <see cref="RaiseEventAsync"/>, the terminate
    /// message is sent whatever the instance's state; one that already ended discards it.
    /// </remarks>
    public override Task TerminateInstanceAsync(string instanceId, TerminateInstanceOptions? options = null, CancellationToken cancellation = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        cancellation.ThrowIfCancellationRequested();
        return service.ForceTerminateTaskOrchestrationAsync(instanceId, dataConverter.Serialize(options?.Output)).WaitAsync(cancellation);
    }

    /// <summary>The history of the instance's current execution, oldest event first; empty for an instance that does not exist.</summary>
    /// <remarks>The backend's own dump of the history, read back into DurableTask.Core's events (<see cref="HistoryEvents"/>).</remarks>
    public override async Task<IList<HistoryEvent>> GetOrchestrationHistoryAsync(string instanceId, CancellationToken cancellation = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        var states = await service.GetOrchestrationStateAsync(instanceId, allExecutions: false, fetchInput: false).WaitAsync(cancellation);
        if (states is not [{ OrchestrationInstance.ExecutionId: { } executionId }, ..])
        {
            return [];
        }

        return HistoryEvents.Read(await service.GetOrchestrationHistoryAsync(instanceId, executionId).WaitAsync(cancellation));
    }

    public override async Task<OrchestrationMetadata?> GetInstancesAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        cancellation.ThrowIfCancellationRequested();
        var states = await service.GetOrchestrationStateAsync(instanceId, allExecutions: false, fetchInput: getInputsAndOutputs).WaitAsync(cancellation);
        return states is { Count: > 0 } ? ToMetadata(states[0], getInputsAndOutputs) : null;
    }

    public override AsyncPageable<OrchestrationMetadata> GetAllInstancesAsync(OrchestrationQuery? filter = null) =>
        Pageable.Create(async (continuation, pageSize, cancellation) =>
        {
            var query = new CoreQuery
            {
                RuntimeStatus = filter?.Statuses?.Select(ToCore).ToList(),
                CreatedTimeFrom = filter?.CreatedFrom?.UtcDateTime,
                CreatedTimeTo = filter?.CreatedTo?.UtcDateTime,
                TaskHubNames = filter?.TaskHubNames?.ToList(),
                PageSize = pageSize ?? filter?.PageSize ?? OrchestrationQuery.DefaultPageSize,
                ContinuationToken = continuation ?? filter?.ContinuationToken,
                InstanceIdPrefix = filter?.InstanceIdPrefix,
                FetchInputsAndOutputs = filter?.FetchInputsAndOutputs ?? false,
            };
            var result = await service.GetOrchestrationWithQueryAsync(query, cancellation);
            return new Page<OrchestrationMetadata>(
                [.. result.OrchestrationState.Select(s => ToMetadata(s, query.FetchInputsAndOutputs))],
                string.IsNullOrEmpty(result.ContinuationToken) ? null : result.ContinuationToken);
        });

    public override async Task<OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default)
    {
        for (var delay = FirstPoll; ; delay = Next(delay))
        {
            var instance = await GetInstancesAsync(instanceId, getInputsAndOutputs, cancellation)
                ?? throw new InvalidOperationException($"Orchestration with instanceId '{instanceId}' does not exist");
            if (instance.RuntimeStatus != OrchestrationRuntimeStatus.Pending)
            {
                return instance;
            }

            await Task.Delay(delay, cancellation);
        }
    }

    public override async Task<OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default)
    {
        while (true)
        {
            // Listen before reading, so that a completion in between is not missed.
            var committed = completions.WhenCommitted(instanceId, cancellation);
            if (await GetInstancesAsync(instanceId, getInputsAndOutputs, cancellation) is { IsCompleted: true } instance)
            {
                return instance;
            }

            await Task.WhenAny(committed, Task.Delay(CompletionPoll, cancellation));
            cancellation.ThrowIfCancellationRequested();
            if (committed.IsCompletedSuccessfully)
            {
                // Ended and committed by this process's engine: its final state, as a read would return it.
                return ToMetadata(await committed, getInputsAndOutputs);
            }
        }
    }

    public override async Task<PurgeResult> PurgeInstanceAsync(string instanceId, PurgeInstanceOptions? options = null, CancellationToken cancellation = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        var instance = await GetInstancesAsync(instanceId, cancellation: cancellation);
        if (instance is null)
        {
            return new PurgeResult(0);
        }

        if (!instance.IsCompleted)
        {
            // The backend would delete a running instance's rows under its feet; the SDK's clients refuse, and so does this one.
            throw new InvalidOperationException(
                $"Only orchestrations in a terminal state can be purged, but the orchestration with instance ID {instanceId} has status {instance.RuntimeStatus}.");
        }

        var result = await ((IOrchestrationServicePurgeClient)service).PurgeInstanceStateAsync(instanceId).WaitAsync(cancellation);
        return new PurgeResult(result.DeletedInstanceCount);
    }

    public override async Task<PurgeResult> PurgeAllInstancesAsync(PurgeInstancesFilter filter, PurgeInstanceOptions? options = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        cancellation.ThrowIfCancellationRequested();
        var result = await ((IOrchestrationServicePurgeClient)service).PurgeInstanceStateAsync(new PurgeInstanceFilter(
            (filter.CreatedFrom ?? default).UtcDateTime, filter.CreatedTo?.UtcDateTime, filter.Statuses?.Select(ToCore)));
        return new PurgeResult(result.DeletedInstanceCount);
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task SendAsync(string instanceId, HistoryEvent @event, CancellationToken cancellation)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        cancellation.ThrowIfCancellationRequested();
        return service.SendTaskOrchestrationMessageAsync(new TaskMessage { OrchestrationInstance = new OrchestrationInstance { InstanceId = instanceId }, Event = @event })
            .WaitAsync(cancellation);
    }

    private OrchestrationMetadata ToMetadata(OrchestrationState state, bool getInputsAndOutputs) => new(state.Name, state.OrchestrationInstance.InstanceId)
    {
        DataConverter = getInputsAndOutputs ? dataConverter : null,
        RuntimeStatus = FromCore(state.OrchestrationStatus),
        CreatedAt = state.CreatedTime,
        LastUpdatedAt = state.LastUpdatedTime,
        SerializedInput = getInputsAndOutputs ? state.Input : null,
        SerializedOutput = getInputsAndOutputs ? state.Output : null,
        SerializedCustomStatus = getInputsAndOutputs ? state.Status : null,
        FailureDetails = state.FailureDetails is { } f ? new TaskFailureDetails(f.ErrorType, f.ErrorMessage, f.StackTrace, null, null) : null,
    };

    private static TimeSpan Next(TimeSpan delay) => TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LongestPoll.Ticks));

#pragma warning disable CS0618 // Canceled is obsolete in the SDK, but the backend may still report it.
    private static OrchestrationRuntimeStatus FromCore(CoreStatus status) => status switch
    {
        CoreStatus.Running => OrchestrationRuntimeStatus.Running,
        CoreStatus.Completed => OrchestrationRuntimeStatus.Completed,
        CoreStatus.ContinuedAsNew => OrchestrationRuntimeStatus.ContinuedAsNew,
        CoreStatus.Failed => OrchestrationRuntimeStatus.Failed,
        CoreStatus.Canceled => OrchestrationRuntimeStatus.Canceled,
        CoreStatus.Terminated => OrchestrationRuntimeStatus.Terminated,
        CoreStatus.Pending => OrchestrationRuntimeStatus.Pending,
        CoreStatus.Suspended => OrchestrationRuntimeStatus.Suspended,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    private static CoreStatus ToCore(OrchestrationRuntimeStatus status) => status switch
    {
        OrchestrationRuntimeStatus.Running => CoreStatus.Running,
        OrchestrationRuntimeStatus.Completed => CoreStatus.Completed,
        OrchestrationRuntimeStatus.ContinuedAsNew => CoreStatus.ContinuedAsNew,
        OrchestrationRuntimeStatus.Failed => CoreStatus.Failed,
        OrchestrationRuntimeStatus.Canceled => CoreStatus.Canceled,
        OrchestrationRuntimeStatus.Terminated => CoreStatus.Terminated,
        OrchestrationRuntimeStatus.Pending => CoreStatus.Pending,
        OrchestrationRuntimeStatus.Suspended => CoreStatus.Suspended,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, string.Create(CultureInfo.InvariantCulture, $"unknown status {status}")),
    };
#pragma warning restore CS0618
}
