using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.LocalHost.Durable;
using Serverless.LocalHost.Queues;

namespace Serverless.LocalHost.Tests.Configuration;

/// <summary>host.json's <c>extensions.queues</c> and <c>extensions.durableTask</c> with Azure Functions' meaning and defaults.</summary>
public sealed class HostOptionsTests
{
    private const string Connection = "UseDevelopmentStorage=true";

    [Fact]
    public void QueueListenerOptions_WithoutQueueSettings_HaveFunctionsDefaults()
    {
        using var app = new AppSettings();

        var options = QueueListenerOptions.From(app.Build());

        Assert.Equal(16, options.BatchSize);
        Assert.Null(options.NewBatchThreshold);
        Assert.Equal(8, options.EffectiveNewBatchThreshold);
        Assert.Equal(TimeSpan.FromMinutes(1), options.MaxPollingInterval);
        Assert.Equal(TimeSpan.Zero, options.VisibilityTimeout);
        Assert.Equal(5, options.MaxDequeueCount);
        Assert.True(options.Base64);
        Assert.Equal(TimeSpan.FromSeconds(30), options.MessageLease);
    }

    [Fact]
    public void QueueListenerOptions_ReadHostJsonQueues()
    {
        using var app = new AppSettings("""
            {
              "version": "2.0",
              "extensions": {
                "queues": {
                  "batchSize": 24, "newBatchThreshold": 3, "maxPollingInterval": "00:00:02",
                  "visibilityTimeout": "00:00:05", "maxDequeueCount": 2, "messageEncoding": "none"
                }
              }
            }
            """);

        var options = QueueListenerOptions.From(app.Build());

        Assert.Equal((24, 3, 3), (options.BatchSize, options.NewBatchThreshold, options.EffectiveNewBatchThreshold));
        Assert.Equal(TimeSpan.FromSeconds(2), options.MaxPollingInterval);
        Assert.Equal(TimeSpan.FromSeconds(5), options.VisibilityTimeout);
        Assert.Equal(2, options.MaxDequeueCount);
        Assert.False(options.Base64);
    }

    [Fact]
    public void QueueListenerOptions_ReadAMillisecondsNumberAsFunctionsDoes()
    {
        using var app = new AppSettings("""{ "version": "2.0", "extensions": { "queues": { "maxPollingInterval": 1500, "visibilityTimeout": "250" } } }""");

        var options = QueueListenerOptions.From(app.Build());

        Assert.Equal(TimeSpan.FromMilliseconds(1500), options.MaxPollingInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.VisibilityTimeout);
    }

    [Fact]
    public void QueueListenerOptions_OverriddenFromTheEnvironmentAndSettings_TakeTheOverrides()
    {
        using var app = new AppSettings(
            """{ "version": "2.0", "extensions": { "queues": { "batchSize": 24, "maxDequeueCount": 2, "messageEncoding": "none" } } }""",
            """{ "Values": { "AzureFunctionsJobHost__extensions__queues__maxDequeueCount": "7", "LOCALHOST_QUEUE_MESSAGE_LEASE_SECONDS": "9" } }""");
        app.Environment("AzureFunctionsJobHost__extensions__queues__batchSize", "4")
            .Environment("AzureFunctionsJobHost__extensions__queues__messageEncoding", "Base64");

        var options = QueueListenerOptions.From(app.Build());

        Assert.Equal(4, options.BatchSize);
        Assert.Equal(7, options.MaxDequeueCount);
        Assert.True(options.Base64);
        Assert.Equal(TimeSpan.FromSeconds(9), options.MessageLease);
    }

    [Theory]
    [InlineData(64, 32)]
    [InlineData(32, 32)]
    [InlineData(1, 1)]
    [InlineData(0, 1)]
    public void QueueListenerOptions_BatchSize_IsKeptWithinFunctionsLimits(int batchSize, int effective)
    {
        Assert.Equal(effective, new QueueListenerOptions { BatchSize = batchSize }.EffectiveBatchSize);
    }

    [Fact]
    public void QueueListenerOptions_WithABadValue_FailNamingIt()
    {
        using var app = new AppSettings("""{ "version": "2.0", "extensions": { "queues": { "batchSize": "many" } } }""");

        var error = Assert.Throws<InvalidOperationException>(() => QueueListenerOptions.From(app.Build()));

        Assert.Contains("AzureFunctionsJobHost:extensions:queues:batchSize", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DurableOptions_ReadHostJsonDurableTask()
    {
        using var app = new AppSettings("""
            {
              "version": "2.0",
              "extensions": {
                "durableTask": {
                  "hubName": "HubFromHostJson",
                  "maxConcurrentActivityFunctions": 3,
                  "maxConcurrentOrchestratorFunctions": 2,
                  "extendedSessionsEnabled": true,
                  "extendedSessionIdleTimeoutInSeconds": 12,
                  "storageProvider": {
                    "partitionCount": 2,
                    "controlQueueBatchSize": 8,
                    "controlQueueBufferThreshold": 64,
                    "controlQueueVisibilityTimeout": "00:02:00",
                    "workItemQueueVisibilityTimeout": "00:03:00",
                    "maxQueuePollingInterval": "00:00:01",
                    "useTablePartitionManagement": false
                  }
                }
              }
            }
            """);

        var settings = DurableOptions.From(app.Build(), Connection, "DefaultHub", new Serverless.Functions.Storage.StorageMetrics(), NullLoggerFactory.Instance);

        Assert.Equal("HubFromHostJson", settings.TaskHubName);
        Assert.Equal((3, 2), (settings.MaxConcurrentTaskActivityWorkItems, settings.MaxConcurrentTaskOrchestrationWorkItems));
        Assert.True(settings.ExtendedSessionsEnabled);
        Assert.Equal(TimeSpan.FromSeconds(12), settings.ExtendedSessionIdleTimeout);
        Assert.Equal((2, 8, 64), (settings.PartitionCount, settings.ControlQueueBatchSize, settings.ControlQueueBufferThreshold));
        Assert.Equal(TimeSpan.FromMinutes(2), settings.ControlQueueVisibilityTimeout);
        Assert.Equal(TimeSpan.FromMinutes(3), settings.WorkItemQueueVisibilityTimeout);
        Assert.Equal(TimeSpan.FromSeconds(1), settings.MaxQueuePollingInterval);
        Assert.False(settings.UseTablePartitionManagement);
    }

    [Fact]
    public void DurableOptions_WithoutDurableSettings_HaveDurableFunctionsDefaults()
    {
        using var app = new AppSettings("""{ "version": "2.0", "extensions": { "durableTask": { "hubName": "Defaults" } } }""");

        var settings = DurableOptions.From(app.Build(), Connection, "DefaultHub", new Serverless.Functions.Storage.StorageMetrics(), NullLoggerFactory.Instance);

        Assert.Equal((4, 32, 256), (settings.PartitionCount, settings.ControlQueueBatchSize, settings.ControlQueueBufferThreshold));
        Assert.Equal(TimeSpan.FromMinutes(5), settings.ControlQueueVisibilityTimeout);
        Assert.Equal(TimeSpan.FromMinutes(5), settings.WorkItemQueueVisibilityTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.MaxQueuePollingInterval);
        Assert.True(settings.UseTablePartitionManagement);
        Assert.Equal(10 * Environment.ProcessorCount, settings.MaxConcurrentTaskActivityWorkItems);
        Assert.Equal(10 * Environment.ProcessorCount, settings.MaxConcurrentTaskOrchestrationWorkItems);
        Assert.False(settings.ExtendedSessionsEnabled);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.ExtendedSessionIdleTimeout);
        Assert.Equal(Environment.MachineName, settings.WorkerId);
        Assert.False(settings.UseAppLease);
        Assert.True(settings.ThrowExceptionOnInvalidDedupeStatus);
    }

    [Fact]
    public void DurableOptions_OverriddenFromTheEnvironment_TakeTheOverrides()
    {
        using var app = new AppSettings(
            """{ "version": "2.0", "extensions": { "durableTask": { "hubName": "HubFromHostJson", "storageProvider": { "partitionCount": 2, "maxQueuePollingInterval": "00:00:05" } } } }""",
            """{ "Values": { "LOCALHOST_WORKER_ID": "worker-7" } }""");
        app.Environment("AzureFunctionsJobHost__extensions__durableTask__hubName", "HubFromEnvironment")
            .Environment("AzureFunctionsJobHost__extensions__durableTask__storageProvider__maxQueuePollingInterval", "500");

        var settings = DurableOptions.From(app.Build(), Connection, "DefaultHub", new Serverless.Functions.Storage.StorageMetrics(), NullLoggerFactory.Instance);

        Assert.Equal("HubFromEnvironment", settings.TaskHubName);
        Assert.Equal(2, settings.PartitionCount);
        Assert.Equal(TimeSpan.FromMilliseconds(500), settings.MaxQueuePollingInterval);
        Assert.Equal("worker-7", settings.WorkerId);
    }

    [Fact]
    public void DurableOptions_WithAHubNameSetting_ResolveIt()
    {
        using var app = new AppSettings(
            """{ "version": "2.0", "extensions": { "durableTask": { "hubName": "%MY_TASK_HUB%" } } }""",
            """{ "Values": { "MY_TASK_HUB": "HubFromSetting" } }""");

        Assert.Equal("HubFromSetting", DurableOptions.From(app.Build(), Connection, "DefaultHub", new Serverless.Functions.Storage.StorageMetrics(), NullLoggerFactory.Instance).TaskHubName);
    }

    [Theory]
    [InlineData("two-phase")]
    [InlineData("1hub")]
    [InlineData("ab")]
    public void DurableOptions_WithAnInvalidHubName_FailNamingIt(string hub)
    {
        using var app = new AppSettings($$"""{ "version": "2.0", "extensions": { "durableTask": { "hubName": "{{hub}}" } } }""");

        var error = Assert.Throws<InvalidOperationException>(() => DurableOptions.From(app.Build(), Connection, "DefaultHub", new Serverless.Functions.Storage.StorageMetrics(), NullLoggerFactory.Instance));

        Assert.Contains($"'{hub}'", error.Message, StringComparison.Ordinal);
    }
}
