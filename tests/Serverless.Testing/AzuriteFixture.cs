using Xunit;

namespace Serverless.Testing;

/// <summary>
/// One in-memory Azurite for a test class (<c>IClassFixture&lt;AzuriteFixture&gt;</c>) or a
/// collection (<c>ICollectionFixture&lt;AzuriteFixture&gt;</c>). Tests sharing it keep apart by
/// naming their queues and tables with <see cref="TestNames.UniquePrefix"/>.
/// </summary>
/// <remarks>Derive and override <see cref="CreateOptions"/> for another configuration.</remarks>
public class AzuriteFixture : IAsyncLifetime
{
    private AzuriteInstance? _azurite;

    /// <summary>The running instance.</summary>
    /// <exception cref="InvalidOperationException">Used before xUnit initialized the fixture.</exception>
    public AzuriteInstance Azurite =>
        _azurite ?? throw new InvalidOperationException("The Azurite fixture has not been initialized yet.");

    /// <summary>The instance's connection string.</summary>
    public string ConnectionString => Azurite.ConnectionString;

    /// <summary>Starts Azurite.</summary>
    public async Task InitializeAsync() => _azurite = await AzuriteInstance.StartAsync(CreateOptions());

    /// <summary>Stops Azurite.</summary>
    public async Task DisposeAsync()
    {
        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>The options the instance starts with. Default: in memory, 30 s start timeout.</summary>
    protected virtual AzuriteOptions CreateOptions() => new();
}
