using Xunit;

namespace Serverless.Testing;

/// <summary>
/// One <see cref="TestHost"/> (with its own Azurite) shared by the tests of a class; each test uses its own ids and accounts.
/// <see cref="Logs"/> keeps every log line the host's filters let through.
/// </summary>
public class HostFixture : IAsyncLifetime
{
    private TestHost? _host;

    public TestHost Host => _host ?? throw new InvalidOperationException("The host fixture has not been initialized yet.");

    public LogCapture Logs { get; } = new();

    public async Task InitializeAsync() => _host = await TestHost.StartAsync(Settings(), logs: Logs);

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Settings of this fixture's host; override for another configuration.</summary>
    protected virtual IReadOnlyDictionary<string, string?>? Settings() => null;
}
