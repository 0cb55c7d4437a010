using System.Diagnostics;
using System.Reflection;

namespace Serverless.Infra.Tests.Bicep;

/// <summary>
/// Runs the Bicep CLI that restore puts in the NuGet package folder (package Azure.Bicep.CommandLine.linux-x64).
/// A missing compiler is an error, never a reason to skip: these tests are the only check of infra/ that runs
/// without an Azure subscription.
/// </summary>
public static class BicepCompiler
{
    public const string PackageId = "Azure.Bicep.CommandLine.linux-x64";

    /// <summary>Environment variable naming a bicep executable to use instead (e.g. on a machine that is not linux-x64).</summary>
    public const string OverrideVariable = "BICEP_PATH";

    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Compiles <paramref name="bicepFile"/> to an ARM template on standard output.</summary>
    public static async Task<BicepBuild> BuildAsync(string bicepFile, CancellationToken cancellationToken = default)
    {
        var run = await RunAsync(["build", bicepFile, "--stdout"], Path.GetDirectoryName(bicepFile)!, cancellationToken: cancellationToken);
        return new BicepBuild(run.Executable, run.ExitCode, run.StandardOutput, run.StandardError);
    }

    /// <summary>
    /// Runs the compiler with <paramref name="arguments"/> in <paramref name="workingDirectory"/>, with
    /// <paramref name="environment"/> added to its environment, and collects what it printed.
    /// </summary>
    public static async Task<BicepRun> RunAsync(
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var executable = LocateExecutable();
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {executable}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RunTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{executable} {string.Join(' ', start.ArgumentList)}' did not finish within {RunTimeout}.");
        }

        return new BicepRun(executable, process.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// The bicep executable: <c>BICEP_PATH</c> if set, else the package folder restore recorded in this assembly,
    /// else the version pinned in Directory.Packages.props under the NuGet global packages folder.
    /// </summary>
    public static string LocateExecutable()
    {
        var overridden = Environment.GetEnvironmentVariable(OverrideVariable);
        if (!string.IsNullOrWhiteSpace(overridden))
        {
            return File.Exists(overridden)
                ? EnsureExecutable(overridden)
                : throw new FileNotFoundException($"{OverrideVariable} is '{overridden}', which does not exist.", overridden);
        }

        var candidates = new List<string>();
        var restored = typeof(BicepCompiler).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "BicepPackageDirectory")?.Value;
        if (!string.IsNullOrEmpty(restored))
        {
            candidates.Add(Path.Combine(restored, "tools", "bicep"));
        }

        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrWhiteSpace(packages))
        {
            packages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        }

        candidates.Add(Path.Combine(packages, PackageId.ToLowerInvariant(), Repository.PinnedVersion(PackageId), "tools", "bicep"));

        var found = candidates.FirstOrDefault(File.Exists);
        return found is not null
            ? EnsureExecutable(found)
            : throw new FileNotFoundException(
                $"The Bicep CLI is missing. Looked for: {string.Join(", ", candidates)}. "
                + $"Run 'dotnet restore tests/Serverless.Infra.Tests' (package {PackageId}), or set {OverrideVariable} to a bicep executable.");
    }

    // NuGet extracts package files without their Unix mode on some versions, so the binary may lack its execute bit.
    private static string EnsureExecutable(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return path;
        }

        var mode = File.GetUnixFileMode(path);
        const UnixFileMode execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        if ((mode & UnixFileMode.UserExecute) == 0)
        {
            try
            {
                File.SetUnixFileMode(path, mode | execute);
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                throw new InvalidOperationException($"{path} is not executable and could not be made so; run: chmod +x '{path}'", e);
            }
        }

        return path;
    }
}

/// <summary>What one run of the Bicep CLI printed, and how it exited.</summary>
public sealed record BicepRun(string Executable, int ExitCode, string StandardOutput, string StandardError);
