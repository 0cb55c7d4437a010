using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Hosting;

/// <summary>
/// The real local host (<see cref="LocalFunctionsHost.Build"/>) in this process on a free port, against a private Azurite, with
/// no settings but the storage, the port and the in-doubt schedule (local.settings.json is not in the build output): the
/// app's host.json as built. Each response names the endpoint that answered it in <see cref="ServedByHeader"/>.
/// </summary>
public sealed class LocalHostFixture : IAsyncLifetime
{
    /// <summary>The display name of the endpoint that answered (the function's name), or "(none)" when no route matched.</summary>
    public const string ServedByHeader = "x-test-served-by";

    private AzuriteInstance? _azurite;
    private WebApplication? _app;
    private HttpClient? _client;

    public WebApplication App => _app ?? throw new InvalidOperationException("The host has not started.");

    public HttpClient Client => _client ?? throw new InvalidOperationException("The host has not started.");

    public IServiceProvider Services => App.Services;

    public async Task InitializeAsync()
    {
        _azurite = await AzuriteInstance.StartAsync();
        var port = FreePort.Get();
        _app = LocalFunctionsHost.Build([], new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = _azurite.ConnectionString,
            ["Host:LocalHttpPort"] = port.ToString(CultureInfo.InvariantCulture),
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/30 * * * * *",
            ["TRANSACTIONS_SIGNING_KEY"] = "local-host-tests-signing-key-0123456789",
            ["Logging:LogLevel:Default"] = "Warning",
        });

        // Runs after routing (which the host adds before any middleware), so the matched endpoint is known.
        _app.Use((context, next) =>
        {
            context.Response.Headers[ServedByHeader] = context.GetEndpoint()?.DisplayName ?? "(none)";
            return next(context);
        });
        await _app.StartAsync();
        _client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(90) };
        await Eventually.WaitAsync(async () => (await _client.GetAsync("/api/health")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "the local host to answer healthy");
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

        if (_azurite is not null)
        {
            // In memory: nothing to save, so no graceful stop to wait for.
            await _azurite.KillAsync();
            await _azurite.DisposeAsync();
        }
    }
}
