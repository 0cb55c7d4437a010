using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using Serverless.Functions.Hosting;
using Serverless.Functions.Telemetry;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddTransactions(builder.Configuration);
builder.Services.AddTransactionsTelemetry(builder.Configuration);
builder.Build().Run();
