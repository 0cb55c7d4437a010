using System.Security.Cryptography;
using System.Text;

namespace Serverless.Functions.Api.Dashboard;

/// <summary>
/// The operators' page: <c>dashboard.html</c> with <c>dashboard.css</c> and <c>dashboard.js</c> inlined (embedded resources
/// of this assembly, assembled once), and the Content-Security-Policy that lets exactly that style and that script run.
/// </summary>
/// <remarks>
/// The page is static, so the policy names the inline style and script by their SHA-256 hashes instead of a per-request
/// nonce: one response, no external origins (<c>default-src 'none'</c>, API calls to <c>'self'</c> only), and no inline
/// event handler or <c>style</c> attribute could run even if one slipped in. The server puts no request value into the
/// page (the API key is read by the script from the address), so there is nothing to escape on this side; the script
/// writes every value as text.
/// </remarks>
public static class DashboardPage
{
    private static readonly Lazy<(string Html, string Policy)> Page = new(Build);

    /// <summary>The whole page.</summary>
    public static string Html => Page.Value.Html;

    /// <summary>The Content-Security-Policy header value to send with <see cref="Html"/>.</summary>
    public static string ContentSecurityPolicy => Page.Value.Policy;

    private static (string Html, string Policy) Build()
    {
        var style = Read("dashboard.css");
        var script = Read("dashboard.js");
        var html = Read("dashboard.html").Replace("{{STYLE}}", style, StringComparison.Ordinal).Replace("{{SCRIPT}}", script, StringComparison.Ordinal);
        var policy = string.Join("; ",
            "default-src 'none'",
            $"script-src '{Hash(script)}'",
            $"style-src '{Hash(style)}'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'");
        return (html, policy);
    }

    private static string Hash(string inline) => "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(inline)));

    private static string Read(string name)
    {
        var resource = $"{typeof(DashboardPage).Namespace}.{name}";
        using var stream = typeof(DashboardPage).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The embedded resource '{resource}' is missing from {typeof(DashboardPage).Assembly.GetName().Name}.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
