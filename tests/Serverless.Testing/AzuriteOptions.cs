namespace Serverless.Testing;

/// <summary>How <see cref="AzuriteInstance.StartAsync"/> runs Azurite.</summary>
public sealed record AzuriteOptions
{
    /// <summary>
    /// Folder for Azurite's files. Default null: everything is kept in memory and lost when the
    /// instance stops. Set it (to a folder the test owns) when data must survive
    /// <see cref="AzuriteInstance.StopAsync"/> and <see cref="AzuriteInstance.StartAgainAsync"/>.
    /// </summary>
    public string? Location { get; init; }

    /// <summary>How long to wait for all three endpoints to accept connections. Default 30 s.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a graceful stop (SIGTERM, after which Azurite saves its databases) may take before
    /// the process is killed. Default 10 s.
    /// </summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>File for Azurite's debug log (<c>--debug</c>). Default null: no debug log.</summary>
    public string? DebugLogPath { get; init; }
}
