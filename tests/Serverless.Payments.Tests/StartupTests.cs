using System.Diagnostics;
using Serverless.Testing;

namespace Serverless.Payments.Tests;

/// <summary>The service does not start without a usable <c>PAYMENTS_API_KEY</c>: one line on stderr, exit code 1, never the key.</summary>
public sealed class StartupTests : IDisposable
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("payments-startup-").FullName;

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public async Task WithoutAKey_TheServiceRefusesToStart_SayingSoInOneLineOnStderr(string? key)
    {
        var (exitCode, output, error) = await RunAsync(key);

        Assert.Equal(1, exitCode);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("payments: PAYMENTS_API_KEY is not set", line, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", output, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dataDirectory));
    }

    [Theory]
    [InlineData("tiny-key")]
    [InlineData("0123456789abcdef0123456789abcde")]
    [InlineData("ééééééééééééééé")]
    public async Task WithAKeyShorterThan32Bytes_TheServiceRefusesToStart_WithoutPrintingTheKey(string key)
    {
        var (exitCode, output, error) = await RunAsync(key);

        Assert.Equal(1, exitCode);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("payments: PAYMENTS_API_KEY is too short", line, StringComparison.Ordinal);
        Assert.Contains("at least 32", line, StringComparison.Ordinal);
        Assert.DoesNotContain(key, output + error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithAKeyOf32Bytes_TheServiceStarts()
    {
        var key = "0123456789abcdef0123456789abcdef";
        var port = FreePort.Get();
        await using var process = ChildProcess.Start("dotnet", [PaymentsServer.DllPath, "--urls", $"http://127.0.0.1:{port}"], environment: Settings(key));
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(2) };
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"Bearer {key}");

        await Eventually.WaitAsync(
            async () => !process.HasExited && await HttpProbe.AnswersAsync(client, "/health"),
            TimeSpan.FromSeconds(30),
            "the service to answer /health with a key of 32 bytes");
    }

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    private Dictionary<string, string?> Settings(string? key) => new()
    {
        [PaymentsServer.ApiKeySetting] = key,
        ["PAYMENTS_DATA_DIR"] = _dataDirectory,
        ["ASPNETCORE_URLS"] = null,
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
    };

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(string? key)
    {
        var start = new ProcessStartInfo("dotnet", [PaymentsServer.DllPath, "--urls", $"http://127.0.0.1:{FreePort.Get()}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in Settings(key))
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await output, await error);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("the service kept running for 30 s with an unusable PAYMENTS_API_KEY");
        }
    }
}
