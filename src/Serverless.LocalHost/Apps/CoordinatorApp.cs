using System.Reflection;
using OpenTelemetry.Metrics;
using Serverless.Functions.Settings;
using Serverless.Functions.Storage;
using Serverless.Functions.Telemetry;
using Serverless.LocalHost.Http;
using Serverless.LocalHost.Queues;

namespace Serverless.LocalHost.Apps;

/// <summary>The coordinator app (src/Serverless.Functions), which this host carries and runs by default, and what only it gets.</summary>
internal static class CoordinatorApp
{
    public static Assembly Assembly => typeof(TransactionsSettings).Assembly;

    public static AppExtras Extras { get; } = new()
    {
        // The few binding settings the app may leave out (a local.settings.json older than the setting).
        SettingDefaults = TransactionsSettings.BindingDefaults,
        DefaultTaskHub = TransactionsSettings.DefaultTaskHub,

        // Its metrics, scraped by Prometheus here (local host only; on Azure they go over OTLP).
        AddServices = (services, configuration) => services.AddTransactionsTelemetry(configuration, metrics => metrics.AddPrometheusExporter()),
        ApiKey = (services, _) => services.GetRequiredService<TransactionsSettings>().ApiKey,
        Configure = (app, apiKey) =>
        {
            // With the API key when one is set (a scrape config's params: code).
            app.RequireApiKey(LocalFunctionsHost.PrometheusPath, apiKey);
            app.MapPrometheusScrapingEndpoint(LocalFunctionsHost.PrometheusPath);

            // This process's own sends wake its listener at once instead of at the next poll.
            app.Services.GetRequiredService<StorageMetrics>().MessageSent += app.Services.GetRequiredService<QueueTriggers>().Wake;
        },
    };
}
