using System.Security.Cryptography;
using System.Text;
using Microsoft.Net.Http.Headers;

namespace Serverless.Payments;

/// <summary>
/// The service's API key, <c>PAYMENTS_API_KEY</c>: every request, <c>/health</c> and unknown paths included, must carry
/// <c>Authorization: Bearer {key}</c>, or it is answered 401 (a problem document and <c>WWW-Authenticate: Bearer</c>)
/// before any route runs, so that nothing about accounts, charges or faults is shown or changed without it.
/// </summary>
public sealed class BearerKey
{
    /// <summary>The setting (an environment variable) that holds the key.</summary>
    public const string Setting = "PAYMENTS_API_KEY";

    /// <summary>The shortest key accepted, in UTF-8 bytes: what a random key of 256 bits is at least.</summary>
    public const int MinimumBytes = 32;

    private const string Scheme = "Bearer";

    private readonly byte[] _hash;

    private BearerKey(string key) => _hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>
    /// The key in <paramref name="value"/>, or null with <paramref name="error"/> saying why it cannot be used (unset, or
    /// shorter than <see cref="MinimumBytes"/>). The message never holds the key.
    /// </summary>
    public static BearerKey? From(string? value, out string? error)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            error = $"{Setting} is not set; the service answers only requests that carry 'Authorization: Bearer {{{Setting}}}', so it does not start without a key of at least {MinimumBytes} bytes (./run.sh writes a random one into src/Serverless.Functions/local.settings.json).";
            return null;
        }

        value = value.Trim();
        var bytes = Encoding.UTF8.GetByteCount(value);
        if (bytes < MinimumBytes)
        {
            error = $"{Setting} is too short: {bytes} bytes, at least {MinimumBytes} are required (make one with `openssl rand -base64 48`).";
            return null;
        }

        error = null;
        return new BearerKey(value);
    }

    /// <summary>Whether the request carries the key: compared in constant time (over hashes, so the length leaks nothing either).</summary>
    public bool Admits(HttpRequest request, out string? refusal)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            refusal = $"no Authorization header: every request needs 'Authorization: Bearer {{{Setting}}}'";
            return false;
        }

        if (header.Length <= Scheme.Length || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) || header[Scheme.Length] != ' ')
        {
            refusal = "the Authorization header is not a Bearer credential";
            return false;
        }

        var token = header[(Scheme.Length + 1)..].Trim();
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(token)), _hash))
        {
            refusal = $"the bearer key is not this service's {Setting}";
            return false;
        }

        refusal = null;
        return true;
    }

    /// <summary>Answers every request without the key 401 before it reaches a route.</summary>
    public static IApplicationBuilder UseBearerKey(IApplicationBuilder app, BearerKey key)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(key);
        return app.Use(async (context, next) =>
        {
            if (key.Admits(context.Request, out var refusal))
            {
                await next(context);
                return;
            }

            context.RequestServices.GetRequiredService<ILogger<BearerKey>>().RequestRefused(context.Request.Method, context.Request.Path, refusal!);
            context.Response.Headers[HeaderNames.WWWAuthenticate] = context.Request.Headers.Authorization.Count == 0
                ? $"{Scheme} realm=\"payments\""
                : $"{Scheme} realm=\"payments\", error=\"invalid_token\"";
            await TypedResults.Problem(detail: refusal, statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(context);
        });
    }
}
