using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>
/// A Functions app root for the hosts of a test class (a folder holding a copy of the app's host.json and no
/// local.settings.json, so a developer's local settings cannot leak into the child hosts), and a private on-disk Azurite
/// per test: queue names are fixed by the contract, so tests sharing an Azurite would see each other's messages.
/// </summary>
public sealed class HostFixture : IAsyncLifetime
{
    private string? _appRoot;

    /// <summary>The folder the hosts get as <c>FUNCTIONS_APP_ROOT</c> and working directory.</summary>
    public string AppRoot => _appRoot ?? throw new InvalidOperationException("The fixture has not been initialized yet.");

    public Task InitializeAsync()
    {
        _appRoot = Path.Combine(Path.GetTempPath(), $"serverless-crash-{TestNames.UniquePrefix()}");
        Directory.CreateDirectory(_appRoot);
        File.Copy(Path.Combine(RepositoryRoot.Find(), "src", "Serverless.Functions", "host.json"), Path.Combine(_appRoot, "host.json"));
        return Task.CompletedTask;
    }

    /// <summary>Starts an Azurite of the calling test's own, its files under the app root; the test disposes it.</summary>
    public Task<AzuriteInstance> StartStorageAsync() =>
        AzuriteInstance.StartAsync(new AzuriteOptions { Location = Path.Combine(AppRoot, "azurite-" + TestNames.UniquePrefix()) });

    public Task DisposeAsync()
    {
        if (_appRoot is not null && Directory.Exists(_appRoot))
        {
            try
            {
                Directory.Delete(_appRoot, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        return Task.CompletedTask;
    }
}
