using DurableTask.AzureStorage;
using DurableTask.Core;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Converters;
using Microsoft.DurableTask.Worker;
using Microsoft.DurableTask.Worker.Shims;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.Functions.Storage;
using Serverless.LocalHost.Durable;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Durable;

/// <summary>
/// A <see cref="LocalDurableTaskClient"/> on its own task hub in a private Azurite, with a Durable Task worker that runs two
/// small orchestrators through the SDK's shims (as the local host runs the app's): <see cref="Echo"/> returns its input at
/// once; <see cref="AwaitGo"/> waits for the event "Go" and returns its payload.
/// </summary>
public sealed class DurableClientFixture : IAsyncLifetime
{
    public const string Echo = "Echo";
    public const string AwaitGo = "AwaitGo";

    private AzuriteInstance? _azurite;
    private TaskHubWorker? _worker;
    private LocalDurableTaskClient? _client;
    private LocalDurableTaskClient? _otherProcessClient;

    public LocalDurableTaskClient Client => _client ?? throw new InvalidOperationException("The fixture has not started.");

    /// <summary>A client on the same task hub whose process runs no engine: it learns of a completion only by reading the instance.</summary>
    public LocalDurableTaskClient OtherProcessClient => _otherProcessClient ?? throw new InvalidOperationException("The fixture has not started.");

    /// <summary>The storage requests of the engine and both clients.</summary>
    public StorageMetrics Metrics { get; } = new();

    public async Task InitializeAsync()
    {
        _azurite = await AzuriteInstance.StartAsync();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureFunctionsJobHost:extensions:durableTask:hubName"] = "LocalClientTests",
            ["AzureFunctionsJobHost:extensions:durableTask:storageProvider:partitionCount"] = "1",
            ["AzureFunctionsJobHost:extensions:durableTask:storageProvider:maxQueuePollingInterval"] = "00:00:00.2",
        }).Build();
        var loggers = NullLoggerFactory.Instance;
        var service = new AzureStorageOrchestrationService(DurableOptions.From(configuration, _azurite.ConnectionString, "LocalClientTests", Metrics, loggers));
        await service.CreateIfNotExistsAsync();

        var shims = new DurableTaskShimFactory(new DurableTaskWorkerOptions { DataConverter = JsonDataConverter.Default }, loggers);
        // As the local host wires them: the engine tells this process's client when it committed an instance's end.
        var completions = new InstanceCompletions();
        _worker = new TaskHubWorker(new CommitNotifyingService(service, completions), loggers);
        _worker.AddTaskOrchestrations(
            new Orchestrator(Echo, () => shims.CreateOrchestration(Echo, FuncTaskOrchestrator.Create<string, string>(
                (context, input) => Task.FromResult(input)))),
            new Orchestrator(AwaitGo, () => shims.CreateOrchestration(AwaitGo, FuncTaskOrchestrator.Create<string, string>(
                (context, input) => context.WaitForExternalEvent<string>("Go")))));
        await _worker.StartAsync();
        _client = new LocalDurableTaskClient(service, JsonDataConverter.Default, completions);
        _otherProcessClient = new LocalDurableTaskClient(service, JsonDataConverter.Default, new InstanceCompletions());
    }

    public async Task DisposeAsync()
    {
        if (_worker is not null)
        {
            await _worker.StopAsync(isForced: true);
        }

        if (_azurite is not null)
        {
            await _azurite.KillAsync();
            await _azurite.DisposeAsync();
        }

        Metrics.Dispose();
    }

    private sealed class Orchestrator : ObjectCreator<TaskOrchestration>
    {
        private readonly Func<TaskOrchestration> _create;

        public Orchestrator(string name, Func<TaskOrchestration> create)
        {
            Name = name;
            Version = string.Empty;
            _create = create;
        }

        public override TaskOrchestration Create() => _create();
    }
}
