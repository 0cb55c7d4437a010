using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Serverless.Functions.Settings;

/// <summary>How the app reads a setting's value: trimmed, empty as unset, and a value out of its range refused with the setting's name.</summary>
internal static class SettingValues
{
    internal static Uri? AbsoluteHttpUrl(IConfiguration configuration, string key) => NullIfEmpty(configuration[key]) switch
    {
        null => null,
        var text when Uri.TryCreate(text.EndsWith('/') ? text : text + "/", UriKind.Absolute, out var url) && url.Scheme is "http" or "https" => url,
        var text => throw new InvalidOperationException($"{key}: '{text}' is not an absolute http or https URL."),
    };

    internal static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    internal static List<string>? List(string? value) => NullIfEmpty(value) is { } v
        ? [.. v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal)]
        : null;

    internal static int Int(IConfiguration configuration, string key, int fallback, int min, int max)
    {
        var text = NullIfEmpty(configuration[key]);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new InvalidOperationException($"{key} must be a whole number from {min} to {max}; it is '{text}'.");
        }

        return value;
    }

    // "c" is TimeSpan's invariant form, "[d.]hh:mm:ss[.fffffff]": "3.00:00:00" is three days, "72:00:00" is refused
    // (hours above 23) rather than read as something else.
    internal static TimeSpan Span(IConfiguration configuration, string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
    {
        var text = NullIfEmpty(configuration[key]);
        if (text is null)
        {
            return fallback;
        }

        if (!TimeSpan.TryParseExact(text, "c", CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new InvalidOperationException(
                $"{key} must be a time span \"d.hh:mm:ss\" from {min:c} to {max.Days} days (e.g. \"3.00:00:00\" for three days); it is '{text}'.");
        }

        return value;
    }
}
