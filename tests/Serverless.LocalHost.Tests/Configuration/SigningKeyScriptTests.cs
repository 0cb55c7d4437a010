using System.Diagnostics;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Configuration;

/// <summary>
/// <c>scripts/signing-key.sh</c>, which <c>./run.sh</c> runs on local.settings.json: a fresh clone gets a random signing key of its
/// own, never printed, and a key already there is kept.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SigningKeyScriptTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("signing-key-").FullName;

    [Fact]
    public async Task OnTheSampleSettings_WritesARandomKeyOfAtLeast32Bytes_NeverPrintsIt_AndKeepsItNextTime()
    {
        var settings = Path.Combine(_directory, "local.settings.json");
        File.Copy(Path.Combine(RepositoryRoot.Find(), "src", "Serverless.Functions", "local.settings.sample.json"), settings);
        Assert.Equal(string.Empty, Key(settings));

        var output = await RunAsync(settings);
        var key = Key(settings);

        Assert.True(Convert.FromBase64String(key).Length >= 32, $"a key of {key.Length} characters");
        Assert.DoesNotContain(key, output, StringComparison.Ordinal);
        Assert.Contains("generated a random TRANSACTIONS_SIGNING_KEY", output, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(settings));
        Assert.Equal("UseDevelopmentStorage=true", Setting(settings, "AzureWebJobsStorage"));

        Assert.Equal(string.Empty, await RunAsync(settings));
        Assert.Equal(key, Key(settings));

        var other = Path.Combine(_directory, "other.json");
        File.Copy(Path.Combine(RepositoryRoot.Find(), "src", "Serverless.Functions", "local.settings.sample.json"), other);
        await RunAsync(other);
        Assert.NotEqual(key, Key(other));
    }

    [Fact]
    public void TheSampleSettings_HoldNoKey()
    {
        Assert.Equal(string.Empty, Key(Path.Combine(RepositoryRoot.Find(), "src", "Serverless.Functions", "local.settings.sample.json")));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string Key(string settings) => Setting(settings, "TRANSACTIONS_SIGNING_KEY");

    private static string Setting(string settings, string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(settings));
        return document.RootElement.GetProperty("Values").GetProperty(name).GetString()!;
    }

    private static async Task<string> RunAsync(string settings)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(RepositoryRoot.Find(), "scripts", "signing-key.sh"), settings])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment.Remove("TRANSACTIONS_SIGNING_KEY");
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, await error);
        return (await output) + (await error);
    }
}
