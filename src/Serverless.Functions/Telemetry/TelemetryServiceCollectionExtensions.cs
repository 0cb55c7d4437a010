using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Serverless.Functions.Storage;

namespace Serverless.Functions.Telemetry;

/// <summary>
/// OpenTelemetry for the app: the transaction's spans (ours and Durable Task's) and the transaction and storage metrics,
/// exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the standard OpenTelemetry variables apply:
/// <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_EXPORTER_OTLP_HEADERS</c>, <c>OTEL_SERVICE_NAME</c>…). Registered the same way by
/// the app's <c>Program.cs</c> and by the local host, which adds a Prometheus scrape endpoint.
/// </summary>
public static class TelemetryServiceCollectionExtensions
{
    /// <summary>The service name when <c>OTEL_SERVICE_NAME</c> is not set.</summary>
    public const string DefaultServiceName = "serverless-2pc";

    /// <summary>The setting that turns the OTLP exporter on.</summary>
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <param name="services">The app's services.</param>
    /// <param name="configuration">Its settings.</param>
    /// <param name="metrics">More for the meter provider (the local host's Prometheus exporter).</param>
    public static OpenTelemetryBuilder AddTransactionsTelemetry(this IServiceCollection services, IConfiguration configuration, Action<MeterProviderBuilder>? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var otlp = !string.IsNullOrWhiteSpace(configuration[OtlpEndpointSetting]);
        return services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : DefaultServiceName))
            .WithTracing(tracing =>
            {
                tracing.AddSource(TransactionTelemetry.Name, TransactionTelemetry.DurableTaskSourceName, Serverless.ParticipantKit.ParticipantTelemetry.SourceName);
                if (otlp)
                {
                    tracing.AddOtlpExporter();
                }
            })
            .WithMetrics(meters =>
            {
                meters.AddMeter(TransactionTelemetry.Name, StorageMetrics.MeterName);
                if (otlp)
                {
                    meters.AddOtlpExporter();
                }

                metrics?.Invoke(meters);
            });
    }
}
