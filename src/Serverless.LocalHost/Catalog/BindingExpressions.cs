using System.Text.RegularExpressions;

namespace Serverless.LocalHost.Catalog;

/// <summary>Resolves Functions' <c>%Setting%</c> binding expressions (queue names, schedules) from the app's settings.</summary>
public static partial class BindingExpressions
{
    /// <exception cref="InvalidOperationException">A named setting is not set; the message names it and the function.</exception>
    public static string Resolve(string expression, IConfiguration configuration, string function)
    {
        ArgumentNullException.ThrowIfNull(expression);
        ArgumentNullException.ThrowIfNull(configuration);
        return Setting().Replace(expression, match =>
        {
            var name = match.Groups[1].Value;
            var value = configuration[name.Replace("__", ":", StringComparison.Ordinal)];
            return string.IsNullOrWhiteSpace(value)
                ? throw new InvalidOperationException($"Function '{function}' uses %{name}%, but the setting {name} is not set (local.settings.json Values, or the environment).")
                : value.Trim();
        });
    }

    [GeneratedRegex("%([A-Za-z0-9_.:-]+)%")]
    private static partial Regex Setting();
}
