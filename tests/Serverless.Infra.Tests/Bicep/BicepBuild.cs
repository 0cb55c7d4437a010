using System.Text.RegularExpressions;

namespace Serverless.Infra.Tests.Bicep;

/// <summary>What one <c>bicep build --stdout</c> produced.</summary>
/// <param name="Executable">The compiler that ran.</param>
/// <param name="ExitCode">Its exit code: 0 when an ARM template was written.</param>
/// <param name="Json">Standard output: the ARM template.</param>
/// <param name="StandardError">Standard error: the diagnostics.</param>
public sealed partial record BicepBuild(string Executable, int ExitCode, string Json, string StandardError)
{
    /// <summary>The diagnostics, one per line of the form <c>file(line,col) : Warning code: message</c>.</summary>
    public IReadOnlyList<BicepDiagnostic> Diagnostics =>
        [.. DiagnosticLine().Matches(StandardError).Select(m => new BicepDiagnostic(
            m.Groups["location"].Value, m.Groups["level"].Value, m.Groups["code"].Value, m.Groups["message"].Value.Trim()))];

    [GeneratedRegex(@"^(?<location>.+?\(\d+,\d+\)) : (?<level>Error|Warning|Info) (?<code>[^:\s]+): (?<message>.*)$", RegexOptions.Multiline)]
    private static partial Regex DiagnosticLine();
}

/// <summary>One compiler diagnostic.</summary>
public sealed record BicepDiagnostic(string Location, string Level, string Code, string Message)
{
    public override string ToString() => $"{Location} : {Level} {Code}: {Message}";
}
