using System.Globalization;
using System.Reflection;
using DurableTask.AzureStorage;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Converters;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.Configuration.Memory;
using Serverless.Functions.Hosting;
using Serverless.Functions.Storage;
using OpenTelemetry.Metrics;
using Serverless.Functions.Telemetry;
using Serverless.LocalHost.Catalog;
using Serverless.LocalHost.Configuration;
using Serverless.LocalHost.Durable;
using Serverless.LocalHost.Http;
using Serverless.LocalHost.Invocation;
using Serverless.LocalHost.Queues;
using Serverless.LocalHost.Timers;

namespace Serverless.LocalHost;

/// <summary>
/// Builds the local Functions host: the app's settings read the Functions way, the app's own services, its functions found
/// from their <c>[Function]</c> declarations and served (HTTP on <c>Host.LocalHttpPort</c>, queue and timer triggers, and
/// orchestrators and activities on Durable Task's engine), and a Durable client on the same task hub.
/// </summary>
public static class LocalFunctionsHost
{
    /// <summary>The local host's Prometheus scrape endpoint.</summary>
    public const string PrometheusPath = "/metrics";

    /// <param name="args">Command-line arguments (they override settings).</param>
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
    /// <exception cref="NotSupportedException">A function uses a binding this host cannot serve, or two have one name.</exception>
    public static WebApplication Build(
        string[] args,
        IReadOnlyDictionary<string, string?>? overrides = null,
        IEnumerable<Assembly>? extraFunctionAssemblies = null,
        Action<IServiceCollection>? configureServices = null)
    {
        var root = FunctionsConfiguration.FindAppRoot();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = root });
        FunctionsConfiguration.AddFunctionsFiles(builder.Configuration, root);

        // Below everything else: the few binding settings the app may leave out (a local.settings.json older than the setting).
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = TransactionsSettings.BindingDefaults.Select(d => KeyValuePair.Create(d.Key, (string?)d.Value)) });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        var configuration = builder.Configuration;
        var functions = FunctionCatalog.Load(typeof(TransactionsSettings).Assembly, extraFunctionAssemblies ?? [])
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
        builder.Services.AddTransactions(configuration);
        builder.Services.AddTransactionsTelemetry(configuration, metrics => metrics.AddPrometheusExporter());
        configureServices?.Invoke(builder.Services);
        AddFunctionsHost(builder.Services, configuration, functions);

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        var apiKey = app.Services.GetRequiredService<TransactionsSettings>().ApiKey;
        app.MapHttpFunctions(functions, apiKey);

        // Prometheus scrapes the transaction and storage metrics here (local host only; on Azure they go over OTLP), with
        // the API key when one is set (a scrape config's params: code).
        app.RequireApiKey(PrometheusPath, apiKey);
        app.MapPrometheusScrapingEndpoint(PrometheusPath);

        // This process's own sends wake its listener at once instead of at the next poll.
        var queueTriggers = app.Services.GetRequiredService<QueueTriggers>();
        app.Services.GetRequiredService<StorageMetrics>().MessageSent += queueTriggers.Wake;
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.LocalHost");
        foreach (var function in functions)
        {
            logger.FunctionServed(function.Name, function.Trigger.ToString(), Describe(function, configuration));
        }

        return app;
    }

    private static void AddFunctionsHost(IServiceCollection services, IConfiguration configuration, IReadOnlyList<LocalFunction> functions)
    {
        var connection = configuration["AzureWebJobsStorage"] is { Length: > 0 } c ? c
            : configuration["AzureWebJobsStorage:accountName"] is { Length: > 0 }
                ? throw new NotSupportedException("The local host needs AzureWebJobsStorage as a connection string (Azurite's, by default); identity-based storage is for Azure.")
                : "UseDevelopmentStorage=true";
        var converter = JsonDataConverter.Default;
        services.AddSingleton(functions);
        services.AddSingleton<DataConverter>(converter);
        services.AddSingleton(new DurableTaskWorkerOptions { DataConverter = converter });
        services.AddSingleton(sp => DurableOptions.From(configuration, connection, sp.GetRequiredService<StorageMetrics>(), sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton(sp => new AzureStorageOrchestrationService(sp.GetRequiredService<AzureStorageOrchestrationServiceSettings>()));
        services.AddSingleton<InstanceCompletions>();
        services.AddSingleton<DurableTaskClient, LocalDurableTaskClient>();
        services.AddSingleton<FunctionInvoker>();
        services.AddSingleton(QueueListenerOptions.From(configuration));
        services.AddSingleton(sp =>
        {
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.LocalHost.Queues");
            return new QueueTransport(connection, sp.GetRequiredService<QueueListenerOptions>().Base64, queue => logger.UndecodableMessage(queue), sp.GetRequiredService<StorageMetrics>());
        });
        services.AddSingleton<QueueTriggers>();
        services.AddHostedService<DurableEngine>();
        services.AddHostedService(sp => sp.GetRequiredService<QueueTriggers>());
        services.AddHostedService<TimerTriggers>();
    }

    private static string Describe(LocalFunction function, IConfiguration configuration) => function.Trigger switch
    {
        TriggerKind.Http => $"{string.Join('|', function.HttpMethods)} /api/{function.Target}",
        TriggerKind.Queue or TriggerKind.Timer => BindingExpressions.Resolve(function.Target!, configuration, function.Name),
        _ => string.Empty,
    };
}
