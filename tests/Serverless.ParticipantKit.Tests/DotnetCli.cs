using System.Reflection;
using Serverless.Testing;

namespace Serverless.ParticipantKit.Tests;

/// <summary>
/// The <c>dotnet</c> command line as a developer runs it, as a child process with a deadline: nothing left running after it
/// (no MSBuild node reuse, no shared compiler server), and its whole output in the failure message.
/// </summary>
public static class DotnetCli
{
    /// <summary>The configuration this test assembly (and so the kit it references) was built in.</summary>
    public static string Configuration =>
        typeof(DotnetCli).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>Runs <c>dotnet {arguments}</c> in <paramref name="workingDirectory"/>; returns its output.</summary>
    /// <exception cref="InvalidOperationException">It exited with a non-zero code; the message holds its output.</exception>
    /// <exception cref="TimeoutException">It ran longer than <paramref name="timeout"/> (it is then killed); the message holds its output.</exception>
    public static async Task<string> RunAsync(
        IReadOnlyList<string> arguments, string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path && File.Exists(path) ? path : "dotnet";
        var settings = new Dictionary<string, string?>
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
            ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["UseSharedCompilation"] = "false",

            // What `dotnet test` hands its test host: a build started from here must find its own SDK, as on a developer's shell.
            ["MSBuildExtensionsPath"] = null,
            ["MSBuildSDKsPath"] = null,
            ["MSBUILD_EXE_PATH"] = null,
            ["MSBuildLoadMicrosoftTargetsReadOnly"] = null,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var command = $"dotnet {string.Join(' ', arguments)}";
        await using var process = ChildProcess.Start(dotnet, arguments, workingDirectory, settings, maxOutputLines: 5000);
        if (!await process.WaitForExitAsync(timeout))
        {
            await process.KillAndWaitAsync(TimeSpan.FromSeconds(10));
            throw new TimeoutException($"`{command}` in {workingDirectory} did not finish within {timeout.TotalSeconds:0} s; it was killed. Output:\n{process.Output}");
        }

        return process.ExitCode == 0
            ? process.Output
            : throw new InvalidOperationException($"`{command}` in {workingDirectory} exited with code {process.ExitCode}. Output:\n{process.Output}");
    }
}
