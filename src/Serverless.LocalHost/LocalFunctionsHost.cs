using System.Globalization;
using System.Reflection;
using DurableTask.AzureStorage;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Converters;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Serverless.Functions.Storage;
using Serverless.LocalHost.Apps;
using Serverless.LocalHost.Catalog;
using Serverless.LocalHost.Configuration;
using Serverless.LocalHost.Durable;
using Serverless.LocalHost.Http;
using Serverless.LocalHost.Invocation;
using Serverless.LocalHost.Management;
using Serverless.LocalHost.Queues;
using Serverless.LocalHost.Timers;

namespace Serverless.LocalHost;

/// <summary>
/// Builds the local Functions host for one app (<see cref="LocalApp"/>: the coordinator app by default, another by
/// <c>--app</c>): the app's settings read the Functions way, the app's own services, its functions found from their
/// <c>[Function]</c> declarations and served (HTTP on <c>Host.LocalHttpPort</c>, queue and timer triggers, and orchestrators
/// and activities on Durable Task's engine), and a Durable client on the same task hub. The Durable engine and client run
/// only for an app that has orchestrators, activities or a <c>[DurableClient]</c> parameter: another app creates no task hub.
/// With them comes the Durable Functions HTTP management API (<see cref="ManagementApi"/>).
/// </summary>
public static class LocalFunctionsHost
{
    /// <summary>The local host's Prometheus scrape endpoint (the coordinator app's).</summary>
    public const string PrometheusPath = "/metrics";

    /// <param name="args">
    /// Command-line arguments (they override settings); <c>--app path/to/App.dll</c> hosts that app instead of the coordinator.
    /// </param>
    /// <param name="overrides">Settings that override everything else (tests).</param>
    /// <param name="extraFunctionAssemblies">
    /// Assemblies whose <c>[Function]</c> methods are served beside the app's, in the same host, on the same task hub and
    /// storage (the benchmark's textbook orchestration); null: the app's functions only, as <c>./run.sh</c> and the tests
    /// run it. A function name taken twice across them is refused (<see cref="FunctionCatalog.Load"/>).
    /// </param>
    /// <param name="configureServices">
    /// Registers what the extra functions need beyond the app's services (called after the app's registrations, so it may
    /// use them); null: nothing.
    /// </param>
    /// <param name="appRoot">The coordinator app's folder (host.json, local.settings.json) instead of the one found by default: tests give one without a local.settings.json.</param>
    /// <exception cref="InvalidOperationException">A setting is missing or wrong, or the app cannot be loaded; the message says which.</exception>
    /// <exception cref="NotSupportedException">A function uses a binding this host cannot serve, or two have one name.</exception>
    public static WebApplication Build(
        string[] args,
        IReadOnlyDictionary<string, string?>? overrides = null,
        IEnumerable<Assembly>? extraFunctionAssemblies = null,
        Action<IServiceCollection>? configureServices = null,
        string? appRoot = null)
    {
        var hosted = LocalApp.Choose(args, appRoot);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = hosted.Root });
        FunctionsConfiguration.AddFunctionsFiles(builder.Configuration, hosted.Root);

        // Below everything else: the few binding settings the app may leave out.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = hosted.Extras.SettingDefaults.Select(d => KeyValuePair.Create(d.Key, (string?)d.Value)) });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        var configuration = builder.Configuration;
        var functions = FunctionCatalog.Load(hosted.Assembly, extraFunctionAssemblies ?? [])
            .Where(f => !string.Equals(configuration[$"AzureWebJobs.{f.Name}.Disabled"], "true", StringComparison.OrdinalIgnoreCase))
            .ToList();
        foreach (var function in functions.Where(f => f.Trigger is TriggerKind.Queue or TriggerKind.Timer))
        {
            // Fail now, naming the setting, rather than when the trigger starts.
            var target = BindingExpressions.Resolve(function.Target!, configuration, function.Name);
            if (function.Trigger == TriggerKind.Timer)
            {
                CronSchedule.Parse(target);
            }
            else
            {
                StorageConnections.ConnectionString(configuration, function.Connection, function.Name);
            }
        }

        var port = int.Parse(configuration["Host:LocalHttpPort"] ?? "7071", CultureInfo.InvariantCulture);
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 1024 * 1024);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("DurableTask", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.DurableTask", LogLevel.Warning);

        builder.Services.AddProblemDetails();
        hosted.Register(builder.Services, configuration);
        hosted.Extras.AddServices(builder.Services, configuration);
        configureServices?.Invoke(builder.Services);
        AddFunctionsHost(builder.Services, configuration, functions, hosted.Extras.DefaultTaskHub);

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        var apiKey = hosted.Extras.ApiKey(app.Services, configuration);
        app.MapHttpFunctions(functions, apiKey);
        if (app.Services.GetService<AzureStorageOrchestrationServiceSettings>() is { } taskHub)
        {
            // As the Functions host serves it for every Durable app, under the same key as the app's routes.
            app.MapDurableManagementApi(taskHub.TaskHubName, apiKey);
        }

        hosted.Extras.Configure(app, apiKey);

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.LocalHost");
        logger.AppHosted(hosted.Name, hosted.Root, app.Services.GetService<AzureStorageOrchestrationServiceSettings>()?.TaskHubName ?? "none");
        foreach (var function in functions)
        {
            logger.FunctionServed(function.Name, function.Trigger.ToString(), Describe(function, configuration));
        }

        return app;
    }

    private static void AddFunctionsHost(IServiceCollection services, IConfiguration configuration, IReadOnlyList<LocalFunction> functions, string defaultTaskHub)
    {
        services.AddSingleton(functions);

        // The timers' clock, unless the app (or a test) brought its own.
        services.TryAddSingleton(TimeProvider.System);
        if (functions.Any(f => f.UsesDurable))
        {
            // Registered first, so that it stops last: queue and timer functions still in flight may use the Durable client.
            AddDurable(services, configuration, defaultTaskHub);
        }

        services.AddSingleton<FunctionInvoker>();
        services.AddSingleton(QueueListenerOptions.From(configuration));
        services.AddSingleton<QueueTriggers>();
        services.AddHostedService(sp => sp.GetRequiredService<QueueTriggers>());
        services.AddHostedService<TimerTriggers>();
    }

    /// <summary>The task hub on the app's own storage: Durable Task's engine and the Durable client.</summary>
    private static void AddDurable(IServiceCollection services, IConfiguration configuration, string defaultTaskHub)
    {
        var connection = StorageConnections.ConnectionString(configuration, connection: null);
        var converter = JsonDataConverter.Default;
        services.AddSingleton<DataConverter>(converter);
        services.AddSingleton(new DurableTaskWorkerOptions { DataConverter = converter });
        services.AddSingleton(sp => DurableOptions.From(configuration, connection, defaultTaskHub, sp.GetService<StorageMetrics>(), sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton(sp => new AzureStorageOrchestrationService(sp.GetRequiredService<AzureStorageOrchestrationServiceSettings>()));
        services.AddSingleton<InstanceCompletions>();
        services.AddSingleton<DurableTaskClient, LocalDurableTaskClient>();
        services.AddHostedService<DurableEngine>();
    }

    private static string Describe(LocalFunction function, IConfiguration configuration) => function.Trigger switch
    {
        TriggerKind.Http => $"{string.Join('|', function.HttpMethods)} /api/{function.Target}",
        TriggerKind.Queue => $"{BindingExpressions.Resolve(function.Target!, configuration, function.Name)} ({function.Connection ?? StorageConnections.Default})",
        TriggerKind.Timer => BindingExpressions.Resolve(function.Target!, configuration, function.Name),
        _ => string.Empty,
    };
}
