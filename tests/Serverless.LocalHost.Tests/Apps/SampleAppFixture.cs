using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Apps;

/// <summary>
/// The sample app (<see cref="SampleApp"/>) on the real local host (<see cref="LocalFunctionsHost.Build"/> with <c>--app</c>)
/// in this process on a free port, with two private Azurites: <see cref="Own"/> is its AzureWebJobsStorage (where a task
/// hub would be), <see cref="Coordinator"/> the other app's account its inbox is in, reached through
/// <see cref="SampleApp.Connection"/>.
/// </summary>
public sealed class SampleAppFixture : IAsyncLifetime
{
    public const string ApiKey = "sample-app-api-key";

    public const string Greeting = "ahoy";

    private AzuriteInstance? _own;
    private AzuriteInstance? _coordinator;
    private WebApplication? _app;
    private HttpClient? _client;

    public AzuriteInstance Own => _own ?? throw new InvalidOperationException("The host has not started.");

    public AzuriteInstance Coordinator => _coordinator ?? throw new InvalidOperationException("The host has not started.");

    public WebApplication App => _app ?? throw new InvalidOperationException("The host has not started.");

    public HttpClient Client => _client ?? throw new InvalidOperationException("The host has not started.");

    public async Task InitializeAsync()
    {
        try
        {
            _own = await AzuriteInstance.StartAsync();
            _coordinator = await AzuriteInstance.StartAsync();
            var port = FreePort.Get();
            _app = LocalFunctionsHost.Build(["--app", SampleApp.AssemblyPath], new Dictionary<string, string?>
            {
                ["AzureWebJobsStorage"] = _own.ConnectionString,
                [SampleApp.Connection] = _coordinator.ConnectionString,
                ["Host:LocalHttpPort"] = port.ToString(CultureInfo.InvariantCulture),
                ["TRANSACTIONS_API_KEY"] = ApiKey,
                ["SAMPLE_GREETING"] = Greeting,
                ["AzureFunctionsJobHost:extensions:queues:maxPollingInterval"] = "00:00:00.5",
                ["Logging:LogLevel:Default"] = "Warning",
            });
            await _app.StartAsync();
            _client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            await Eventually.WaitAsync(() => HttpProbe.AnswersAsync(_client, $"/api/hello/fixture?code={ApiKey}"), TimeSpan.FromSeconds(30), "the sample app to answer");
        }
        catch
        {
            // xunit does not dispose a fixture that failed to start: stop the Azurites it started.
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_app is not null)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _app.StopAsync(stop.Token);
            }
            finally
            {
                await _app.DisposeAsync();
            }
        }

        foreach (var azurite in new[] { _own, _coordinator })
        {
            if (azurite is not null)
            {
                await azurite.KillAsync();
                await azurite.DisposeAsync();
            }
        }
    }
}
