using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Apps;

/// <summary>Starting the local host on another app: as a process, as ./run.sh runs it, and its start-up errors.</summary>
public sealed class SampleAppStartTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void Build_OfAnAppWhoseNamedConnectionIsNotSet_FailsNamingTheSettingAndTheFunction()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LocalFunctionsHost.Build(["--app", SampleApp.AssemblyPath], new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
            [SampleApp.Connection] = "",
        }));

        Assert.StartsWith($"Function 'Inbox' uses the storage connection '{SampleApp.Connection}', but the setting {SampleApp.Connection} is not set", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_OfAnAppWhoseNamedConnectionIsIdentityBased_RefusesItAsForAzure()
    {
        var error = Assert.Throws<NotSupportedException>(() => LocalFunctionsHost.Build(["--app", SampleApp.AssemblyPath], new Dictionary<string, string?>
        {
            [SampleApp.Connection] = "",
            [$"{SampleApp.Connection}:queueServiceUri"] = "https://account.queue.core.windows.net",
        }));

        Assert.Contains($"identity-based connection ({SampleApp.Connection}__queueServiceUri)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheHostProcess_WithAnApp_ServesThatAppsHttpRoute()
    {
        await using var azurite = await AzuriteInstance.StartAsync();
        var port = FreePort.Get();
        await using var host = StartHost(SampleApp.AssemblyPath, port, azurite.ConnectionString);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };

        await Eventually.WaitAsync(
            async () => !host.HasExited ? await HttpProbe.AnswersAsync(client, "/api/hello/process") : throw new InvalidOperationException($"The host exited with {host.ExitCode}:\n{host.Output}"),
            StartTimeout,
            "the host process to serve the sample app");

        var answer = await client.GetFromJsonAsync<JsonElement>("/api/hello/process");
        Assert.Equal("hello, process", answer.GetProperty("greeting").GetString());
        await host.WaitForOutputAsync("Hosting the Functions app Serverless.LocalHost.SampleApp", TimeSpan.FromSeconds(5));
        await host.StopAsync(TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task TheHostProcess_WithAnAssemblyThatHasNoRegistrationMethod_ExitsWithTheMessageAndNoStackTrace()
    {
        await using var host = StartHost(SampleApp.LibraryPath, FreePort.Get(), "UseDevelopmentStorage=true");

        Assert.True(await host.WaitForExitAsync(StartTimeout), host.Output);
        Assert.Equal(1, host.ExitCode);
        Assert.Contains("Serverless.LocalHost: cannot start: The app Serverless.LocalHost.SampleKit has no registration method", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
    }

    /// <summary>The built host as ./run.sh starts it for another app: <c>dotnet Serverless.LocalHost.dll --app App.dll</c>.</summary>
    private static ChildProcess StartHost(string app, int port, string coordinatorStorage) => ChildProcess.Start(
        "dotnet",
        [SampleApp.HostPath, "--app", app, "--Host:LocalHttpPort", port.ToString(CultureInfo.InvariantCulture)],
        environment: new Dictionary<string, string?>
        {
            [SampleApp.Connection] = coordinatorStorage,
            ["AzureWebJobsStorage"] = coordinatorStorage,
            ["FUNCTIONS_APP_ROOT"] = null,
            ["FUNCTIONS_APP_ASSEMBLY"] = null,
            ["SAMPLE_GREETING"] = null,
            ["TRANSACTIONS_API_KEY"] = null,
        });
}
