using System.Globalization;
using Azure;
using Microsoft.AspNetCore.Diagnostics;
using Serverless.Functions.Api;
using Serverless.Functions.CustomHandler;
using Serverless.Runtime.Faults;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Storage;

namespace Serverless.Functions.Hosting;

/// <summary>Builds the app: settings the Functions way, the services, the HTTP API.</summary>
public static class FunctionApp
{
    /// <param name="args">Command-line arguments (they override settings).</param>
    /// <param name="overrides">Settings that override everything else (used by tests).</param>
    public static WebApplication Create(string[] args, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var root = FunctionsConfiguration.FindAppRoot();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = root });
        FunctionsConfiguration.AddLocalSettings(builder.Configuration, root);
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        var settings = TransactionsSettings.From(builder.Configuration);
        var customHandlerPort = builder.Configuration["FUNCTIONS_CUSTOMHANDLER_PORT"];
        var port = customHandlerPort ?? builder.Configuration["Host:LocalHttpPort"] ?? "7071";
        builder.WebHost.UseUrls($"http://127.0.0.1:{int.Parse(port, CultureInfo.InvariantCulture)}");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 1024 * 1024);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        var queueOptions = FunctionsConfiguration.ReadQueueOptions(root);
        if (settings.MessageLeaseSeconds is { } lease)
        {
            queueOptions = queueOptions with { MessageLease = TimeSpan.FromSeconds(lease) };
        }

        // Fault injection (crash tests only): a misspelt crash point fails the start instead of crashing nothing.
        if (CrashPoints.Armed is { } crashPoint)
        {
            Console.Error.WriteLine($"fault injection: {CrashPoints.PointVariable}={crashPoint}; this process will kill itself there");
        }

        builder.Services.AddProblemDetails();
        builder.Services.AddTransactions(settings, queueOptions, runListeners: customHandlerPort is null);

        var app = builder.Build();
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = StatusFor,
            ExceptionHandler = WriteProblemAsync,

            // An outage is logged as one line per request (below), not as a stack trace.
            SuppressDiagnosticsCallback = context => StorageErrors.IsUnreachable(context.Exception),
        });
        app.UseStatusCodePages();
        app.UseRequestTimeBudget(TimeSpan.FromSeconds(settings.RequestTimeoutSeconds));
        app.MapHealthApi();
        var api = app.MapGroup("/api");
        if (settings.ApiKey is { } key)
        {
            api.AddEndpointFilter(new ApiKeyFilter(key));
        }

        api.MapTransactionsApi();
        api.MapMetricsApi();
        if (settings.Hosted.Contains("bank"))
        {
            api.MapBankApi();
        }

        if (settings.Hosted.Contains("inventory"))
        {
            api.MapInventoryApi();
        }

        if (settings.Hosted.Contains("orders"))
        {
            api.MapOrdersApi();
        }

        if (customHandlerPort is not null)
        {
            // In the Functions host the queue triggers are the host's; it invokes them over HTTP.
            app.MapQueueFunctions(app.Services.GetRequiredService<IReadOnlyList<(string Function, QueueListener Listener)>>());
        }

        return app;
    }

    /// <summary>Storage that does not answer is a 503 (retry later), not a 500.</summary>
    private static int StatusFor(Exception exception) => exception switch
    {
        RequestFailedException { Status: 0 or >= 500 } => StatusCodes.Status503ServiceUnavailable,
        HttpRequestException or TimeoutException or AggregateException => StatusCodes.Status503ServiceUnavailable,
        BadHttpRequestException bad => bad.StatusCode,
        _ => StatusCodes.Status500InternalServerError,
    };

    private static async Task WriteProblemAsync(HttpContext context)
    {
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var status = error is null ? StatusCodes.Status500InternalServerError : StatusFor(error);
        if (error is not null && StorageErrors.IsUnreachable(error))
        {
            HostLogs.RequestStorageUnreachable(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(FunctionApp)), context.Request.Method, context.Request.Path, StorageErrors.Describe(error));
        }

        var detail = status == StatusCodes.Status503ServiceUnavailable
            ? "storage is not reachable right now; retry the request (starting a transaction again with the same transactionId is safe)"
            : "an unexpected error occurred; see the host's log";
        await TypedResults.Problem(detail, statusCode: status).ExecuteAsync(context);
    }
}
