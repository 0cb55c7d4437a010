using System.Text;
using System.Text.RegularExpressions;
using Serverless.Infra.Tests.Bicep;

namespace Serverless.Infra.Tests.Snapshot;

/// <summary>
/// Evaluates infra/main.bicep for given parameter values without Azure: <c>bicep snapshot</c> runs the deployment engine's
/// template evaluation offline (loops, conditions, module nesting, <c>fail()</c> and parameter constraints) and writes
/// the resources the deployment would create. What only Azure knows at deployment time (a new identity's principal
/// id, a new secret's URI) stays an expression that names the resource, e.g. <c>reference('…/userAssignedIdentities/x').principalId</c>.
/// </summary>
/// <remarks>
/// The engine treats a secure parameter as unknown: a value that reads one stays an unevaluated expression, and a
/// secure object hides everything built from it (such as a site's settings). So that the tests can see every value,
/// the snapshot is taken of a copy of infra/ whose <c>@secure()</c> decorators are removed; nothing else differs.
/// <see cref="SecureParameterTests"/> checks the decorators on the real template.
/// </remarks>
public static partial class BicepSnapshot
{
    public const string SubscriptionId = "00000000-0000-0000-0000-0000000000a1";
    public const string TenantId = "00000000-0000-0000-0000-0000000000b2";
    public const string ResourceGroup = "rg-infra-tests";
    public const string Location = "swedencentral";

    /// <summary>The id prefix of every resource the deployment creates in <see cref="ResourceGroup"/>.</summary>
    public static string ResourceGroupId => $"/subscriptions/{SubscriptionId}/resourceGroups/{ResourceGroup}";

    /// <summary>
    /// Evaluates main.bicep with <paramref name="parameters"/> (parameter name to a Bicep expression, e.g.
    /// <c>"'tx2pc'"</c> or <c>"[ { name: 'shipping' } ]"</c>); refused values give a failed <see cref="SnapshotRun"/>.
    /// </summary>
    public static Task<SnapshotRun> OfMainAsync(IReadOnlyDictionary<string, string> parameters, CancellationToken cancellationToken = default)
    {
        var text = new StringBuilder("using 'main.bicep'\n");
        foreach (var (name, value) in parameters)
        {
            text.Append("param ").Append(name).Append(" = ").Append(value).Append('\n');
        }

        return OfParametersFileAsync(text.ToString(), cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Evaluates a .bicepparam file's text, placed in (a copy of) infra/ so that its <c>using</c> names main.bicep as
    /// <c>'main.bicep'</c>; <paramref name="environment"/> is what its <c>readEnvironmentVariable</c> calls read.
    /// </summary>
    public static async Task<SnapshotRun> OfParametersFileAsync(
        string bicepParamText,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var copy = Directory.CreateTempSubdirectory("infra-snapshot-");
        try
        {
            CopyWithoutSecureDecorators(Path.Combine(Repository.Root, "infra"), copy.FullName);
            var parametersFile = Path.Combine(copy.FullName, "snapshot-test.bicepparam");
            await File.WriteAllTextAsync(parametersFile, bicepParamText, cancellationToken);

            var run = await BicepCompiler.RunAsync(
                [
                    "snapshot", parametersFile,
                    "--subscription-id", SubscriptionId,
                    "--tenant-id", TenantId,
                    "--resource-group", ResourceGroup,
                    "--location", Location,
                ],
                copy.FullName,
                environment,
                cancellationToken);
            var output = Path.ChangeExtension(parametersFile, ".snapshot.json");
            var snapshot = run.ExitCode == 0 && File.Exists(output)
                ? new DeploymentSnapshot(await File.ReadAllTextAsync(output, cancellationToken))
                : null;
            return new SnapshotRun(run, snapshot);
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }

    private static void CopyWithoutSecureDecorators(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            if (!file.EndsWith(".bicep", StringComparison.Ordinal) && !file.EndsWith(".bicepparam", StringComparison.Ordinal))
            {
                continue;
            }

            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllText(target, SecureDecorator().Replace(File.ReadAllText(file), string.Empty));
        }
    }

    [GeneratedRegex(@"^[ \t]*@secure\(\)[ \t]*\r?\n", RegexOptions.Multiline)]
    private static partial Regex SecureDecorator();
}

/// <summary>One <c>bicep snapshot</c>: what the CLI printed, and the snapshot when it succeeded.</summary>
public sealed record SnapshotRun(BicepRun Run, DeploymentSnapshot? Snapshot)
{
    /// <summary>The snapshot; throws with the compiler's output when the evaluation failed.</summary>
    public DeploymentSnapshot Succeeded => Snapshot
        ?? throw new InvalidOperationException($"bicep snapshot failed with exit code {Run.ExitCode}:\n{Run.StandardError}{Run.StandardOutput}");
}
