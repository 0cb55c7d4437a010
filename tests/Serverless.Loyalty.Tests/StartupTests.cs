using Serverless.Testing;

namespace Serverless.Loyalty.Tests;

/// <summary>Without a usable key loyalty refuses to start, says why on stderr, exits 1, and never shows a key.</summary>
public sealed class StartupTests : IAsyncLifetime
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);
    private readonly string _dataDirectory = LoyaltyServer.NewDataDirectory();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Directory.Delete(_dataDirectory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Start_WithoutAKey_FailsWithAClearMessage()
    {
        var output = await RunToFailureAsync(new() { ["LOYALTY_DATA_DIR"] = _dataDirectory });

        Assert.Contains("PARTICIPANT_LOYALTY_SIGNING_KEY is not set", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithAShortKey_FailsWithAClearMessageThatDoesNotShowTheKey()
    {
        const string shortKey = "only-31-bytes-of-key-material!!";

        var output = await RunToFailureAsync(new() { ["PARTICIPANT_LOYALTY_SIGNING_KEY"] = shortKey, ["LOYALTY_DATA_DIR"] = _dataDirectory });

        Assert.Contains("PARTICIPANT_LOYALTY_SIGNING_KEY is too short: 31 bytes, at least 32", output, StringComparison.Ordinal);
        Assert.DoesNotContain(shortKey, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithAShortPreviousKey_FailsWithAClearMessageThatDoesNotShowTheKeys()
    {
        const string shortKey = "previous-but-short";

        var output = await RunToFailureAsync(new()
        {
            ["PARTICIPANT_LOYALTY_SIGNING_KEY"] = Keys.Loyalty,
            ["PARTICIPANT_LOYALTY_SIGNING_KEYS_PREVIOUS"] = $"{Keys.Previous},{shortKey}",
            ["LOYALTY_DATA_DIR"] = _dataDirectory,
        });

        Assert.Contains("PARTICIPANT_LOYALTY_SIGNING_KEYS_PREVIOUS: key 2 is too short", output, StringComparison.Ordinal);
        Assert.DoesNotContain(shortKey, output, StringComparison.Ordinal);
        Assert.DoesNotContain(Keys.Previous, output, StringComparison.Ordinal);
        Assert.DoesNotContain(Keys.Loyalty, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithAPortThatIsNotOne_FailsWithAClearMessage()
    {
        var output = await RunToFailureAsync(new() { ["PARTICIPANT_LOYALTY_SIGNING_KEY"] = Keys.Loyalty, ["LOYALTY_DATA_DIR"] = _dataDirectory, ["LOYALTY_PORT"] = "seventy" });

        Assert.Contains("LOYALTY_PORT: \"seventy\" is not a port", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_OnAPortInUse_FailsWithAClearMessage()
    {
        await using var first = await LoyaltyServer.StartAsync(Keys.Loyalty);

        var output = await RunToFailureAsync(
            new() { ["PARTICIPANT_LOYALTY_SIGNING_KEY"] = Keys.Loyalty, ["LOYALTY_DATA_DIR"] = _dataDirectory },
            "--port",
            first.Port.ToString());

        Assert.Contains("address already in use", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_ReadsThePortFromLoyaltyPort_AndSaysWhereItListens()
    {
        var port = FreePort.Get();
        await using var process = LoyaltyServer.StartProcess(new Dictionary<string, string?>
        {
            ["PARTICIPANT_LOYALTY_SIGNING_KEY"] = Keys.Loyalty,
            ["LOYALTY_DATA_DIR"] = _dataDirectory,
            ["LOYALTY_PORT"] = port.ToString(),
        });

        var line = await process.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(30));

        Assert.Contains($"http://127.0.0.1:{port}", line, StringComparison.Ordinal);
        Assert.DoesNotContain(Keys.Loyalty, process.Output, StringComparison.Ordinal);
    }

    private static async Task<string> RunToFailureAsync(Dictionary<string, string?> environment, params string[] arguments)
    {
        await using var process = LoyaltyServer.StartProcess(environment, arguments);

        Assert.True(await process.WaitForExitAsync(ExitTimeout), $"loyalty kept running. Output:\n{process.Output}");
        Assert.Equal(1, process.ExitCode);
        return process.Output;
    }
}
