using System.Diagnostics;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Configuration;

/// <summary>
/// <c>scripts/secret-setting.sh SETTINGS PAYMENTS_API_KEY</c>, which <c>./run.sh</c> runs on local.settings.json before it
/// starts the payment service with that key: a fresh clone gets a random key of its own, never printed, and a key already
/// there (or one the environment sets) is kept.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PaymentsKeyScriptTests : IDisposable
{
    private const string Name = "PAYMENTS_API_KEY";

    private readonly string _directory = Directory.CreateTempSubdirectory("payments-key-").FullName;

    [Fact]
    public async Task OnTheSampleSettings_WritesARandomKeyOfAtLeast32Bytes_NeverPrintsIt_AndKeepsItNextTime()
    {
        var settings = Sample("local.settings.json");
        Assert.Equal(string.Empty, Setting(settings, Name));

        var output = await RunAsync(settings, Name);
        var key = Setting(settings, Name);

        Assert.True(Convert.FromBase64String(key).Length >= 32, $"a key of {key.Length} characters");
        Assert.DoesNotContain(key, output, StringComparison.Ordinal);
        Assert.Contains($"generated a random {Name}", output, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(settings));
        Assert.Equal("http://127.0.0.1:7072", Setting(settings, "PAYMENTS_URL"));
        Assert.Equal(string.Empty, Setting(settings, "TRANSACTIONS_SIGNING_KEY"));

        Assert.Equal(string.Empty, await RunAsync(settings, Name));
        Assert.Equal(key, Setting(settings, Name));

        var other = Sample("other.json");
        await RunAsync(other, Name);
        Assert.NotEqual(key, Setting(other, Name));
    }

    [Fact]
    public async Task TheSigningKeyAndThePaymentsKey_AreTwoSecrets_EachWrittenOnce()
    {
        var settings = Sample("local.settings.json");

        await RunAsync(settings, "TRANSACTIONS_SIGNING_KEY");
        var signing = Setting(settings, "TRANSACTIONS_SIGNING_KEY");
        await RunAsync(settings, Name);

        Assert.Equal(signing, Setting(settings, "TRANSACTIONS_SIGNING_KEY"));
        Assert.NotEqual(signing, Setting(settings, Name));
        Assert.Equal(string.Empty, await RunAsync(settings, "TRANSACTIONS_SIGNING_KEY") + await RunAsync(settings, Name));
    }

    [Fact]
    public async Task WhenTheEnvironmentSetsTheKey_TheFileIsLeftAsItIs()
    {
        var settings = Sample("local.settings.json");
        var before = await File.ReadAllTextAsync(settings);

        var output = await RunAsync(settings, Name, environmentKey: "a-key-the-environment-gives-0123456789abcdef");

        Assert.Equal(string.Empty, output);
        Assert.Equal(before, await File.ReadAllTextAsync(settings));
    }

    [Fact]
    public void TheSampleSettings_HoldNoPaymentsKey_AndNameThePaymentService()
    {
        var sample = Path.Combine(RepositoryRoot.Find(), "src", "Serverless.Functions", "local.settings.sample.json");

        Assert.Equal(string.Empty, Setting(sample, Name));
        Assert.Equal("http://127.0.0.1:7072", Setting(sample, "PAYMENTS_URL"));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Sample(string name)
    {
        var path = Path.Combine(_directory, name);
        File.Copy(Path.Combine(RepositoryRoot.Find(), "src", "Serverless.Functions", "local.settings.sample.json"), path);
        return path;
    }

    private static string Setting(string settings, string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(settings));
        return document.RootElement.GetProperty("Values").GetProperty(name).GetString()!;
    }

    private static async Task<string> RunAsync(string settings, string name, string? environmentKey = null)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(RepositoryRoot.Find(), "scripts", "secret-setting.sh"), settings, name])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment.Remove("TRANSACTIONS_SIGNING_KEY");
        start.Environment.Remove(Name);
        if (environmentKey is not null)
        {
            start.Environment[Name] = environmentKey;
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, await error);
        return (await output) + (await error);
    }
}
