using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>
/// One Azurite per test class, and a Functions app root (a folder holding a copy of the repository's host.json and
/// no local.settings.json, so a developer's local settings cannot leak into the child hosts).
/// </summary>
public sealed class HostFixture : AzuriteFixture, IAsyncLifetime
{
    private string? _appRoot;

    /// <summary>The folder the hosts get as <c>FUNCTIONS_APP_ROOT</c> and working directory.</summary>
    public string AppRoot => _appRoot ?? throw new InvalidOperationException("The fixture has not been initialized yet.");

    public new async Task InitializeAsync()
    {
        _appRoot = Path.Combine(Path.GetTempPath(), $"serverless-crash-{TestNames.UniquePrefix()}");
        Directory.CreateDirectory(_appRoot);
        File.Copy(Path.Combine(RepositoryRoot.Find(), "host.json"), Path.Combine(_appRoot, "host.json"));
        await base.InitializeAsync();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_appRoot is not null && Directory.Exists(_appRoot))
        {
            Directory.Delete(_appRoot, recursive: true);
        }
    }
}
