using System.Text.Json.Serialization;
using Serverless.Payments;

// The demo payment service: ./run.sh starts it on http://127.0.0.1:7072 with the PAYMENTS_API_KEY of local.settings.json;
// the tests start it through PaymentsServer, with a key of its own.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.AddSimpleConsole(options => options.SingleLine = true);
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

// Every request must carry the key; without one the service would be open to anyone who can reach its port, so it does
// not start. The message names the setting, never its value.
if (BearerKey.From(builder.Configuration[BearerKey.Setting], out var keyError) is not { } apiKey)
{
    Console.Error.WriteLine($"payments: {keyError}");
    return 1;
}

var dataDirectory = builder.Configuration["PAYMENTS_DATA_DIR"];
if (string.IsNullOrWhiteSpace(dataDirectory))
{
    Console.Error.WriteLine("payments: PAYMENTS_DATA_DIR is not set; set it to the folder that holds (or will hold) journal.jsonl.");
    return 2;
}

PaymentStore store;
int replayed;
bool tornLine;
try
{
    store = PaymentStore.Open(Path.GetFullPath(dataDirectory), out replayed, out tornLine);
}
catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"payments: cannot open the journal in '{dataDirectory}': {exception.Message}");
    return 1;
}

builder.Services.AddSingleton(store);
builder.Services.AddSingleton<FaultSwitchboard>();
builder.Services.AddProblemDetails();
builder.Services.ConfigureHttpJsonOptions(options =>
    options.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull);

var app = builder.Build();
app.UseExceptionHandler();
BearerKey.UseBearerKey(app, apiKey);
app.Logger.JournalReplayed(store.JournalPath, replayed);
if (tornLine)
{
    app.Logger.TornLineIgnored(store.JournalPath);
}

app.MapGet("/health", () => TypedResults.Ok(new { status = "ok" }));
app.MapPaymentsApi();
app.Run();
return 0;
