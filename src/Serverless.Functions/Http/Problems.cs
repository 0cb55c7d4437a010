using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace Serverless.Functions.Http;

/// <summary>RFC 9457 problem documents, and the bounded JSON body reader every route uses.</summary>
public static class Problems
{
    public static ProblemHttpResult Validation(Dictionary<string, string[]> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var problem = new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request is invalid.",
            Detail = string.Join(" ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")),
        };
        return TypedResults.Problem(problem);
    }

    public static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "The request is invalid.");

    public static ProblemHttpResult NotFound(string id) =>
        TypedResults.Problem($"no transaction '{id}' is known", statusCode: StatusCodes.Status404NotFound, title: "Not found.");

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict.");

    /// <summary>A 429: the coordinator is behind; the client tries again after <paramref name="retryAfter"/> (also in the <c>Retry-After</c> header, whole seconds).</summary>
    public static IResult TooManyRequests(string detail, TimeSpan retryAfter) =>
        new RetryAfterResult(
            TypedResults.Problem(detail, statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests."),
            (int)Math.Clamp(Math.Ceiling(retryAfter.TotalSeconds), 1, 60));

    private sealed class RetryAfterResult(IResult problem, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            ArgumentNullException.ThrowIfNull(httpContext);
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return problem.ExecuteAsync(httpContext);
        }
    }

    /// <summary>Deepest JSON nesting accepted in a request body.</summary>
    public const int MaxBodyDepth = 32;

    /// <summary>
    /// How request bodies are parsed: at most <see cref="MaxBodyDepth"/> deep, and no object may name a property twice
    /// (parsers disagree on which one wins, so such a body means two different things to two readers).
    /// </summary>
    private static readonly JsonDocumentOptions BodyOptions = new() { MaxDepth = MaxBodyDepth, AllowDuplicateProperties = false };

    /// <summary>
    /// Reads the body as JSON with a size and depth limit. Returns the document, or a 400 (malformed, not UTF-8,
    /// not valid Unicode), 413 (too large) or 415 (a content type that is not JSON) problem; nothing is read past the limit.
    /// </summary>
    /// <remarks>
    /// Accepted content types: none, <c>application/json</c>, <c>text/json</c>, <c>application/*+json</c> and
    /// <c>text/plain</c> (what the simplest clients send), in UTF-8; a UTF-8 byte order mark is ignored. A document
    /// that parses but holds a string .NET cannot read (an escaped lone surrogate) is rejected here, so that no
    /// handler meets it later as an exception.
    /// </remarks>
    public static async Task<(JsonDocument? Document, ProblemHttpResult? Problem)> ReadJsonBodyAsync(
        HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (UnsupportedContentType(request.ContentType) is { } unsupported)
        {
            return (null, TypedResults.Problem(unsupported, statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type."));
        }

        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        try
        {
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return (null, TooLarge(maxBytes));
                }

                await buffer.WriteAsync(chunk.AsMemory(0, read), cancellationToken);
            }
        }
        catch (BadHttpRequestException ex)
        {
            // The server refused the body while it was read: Kestrel counts a chunked body as it reads ahead, so one over
            // its own limit can fail here before this loop reaches maxBytes; or the framing was malformed.
            return (null, ex.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge(maxBytes) : BadRequest($"The body could not be read: {ex.Message}"));
        }

        if (buffer.Length == 0)
        {
            return (null, BadRequest("The body is empty; a JSON object is required."));
        }

        var bytes = buffer.ToArray().AsMemory();
        if (bytes.Span.StartsWith(Utf8ByteOrderMark))
        {
            bytes = bytes[Utf8ByteOrderMark.Length..];
        }

        // The JSON reader checks UTF-8 only where it must; invalid bytes inside a string would surface later, as an
        // exception in whatever reads that string, or silently as U+FFFD when it is copied on.
        if (!Utf8.IsValid(bytes.Span))
        {
            return (null, BadRequest("The body is not valid UTF-8."));
        }

        JsonDocument? document = null;
        try
        {
            document = JsonDocument.Parse(bytes, BodyOptions);
            if (FindUnreadableString(document.RootElement, "$") is { } path)
            {
                document.Dispose();
                return (null, BadRequest($"The body is not valid JSON: the string at {path} is not valid Unicode (a lone surrogate)."));
            }

            return (document, null);
        }
        catch (JsonException ex)
        {
            document?.Dispose();
            return (null, BadRequest($"The body is not valid JSON: {ex.Message}"));
        }
        catch (InvalidOperationException)
        {
            // Comparing property names for duplicates reads them: a name with a lone surrogate fails there.
            document?.Dispose();
            return (null, BadRequest("The body is not valid JSON: a property name is not valid Unicode (a lone surrogate)."));
        }
    }

    private static ReadOnlySpan<byte> Utf8ByteOrderMark => [0xEF, 0xBB, 0xBF];

    /// <summary>Null when the content type may hold JSON, else why not.</summary>
    private static string? UnsupportedContentType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return null;
        }

        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType.Value is not { } type)
        {
            return $"The content type '{contentType}' cannot be parsed; send application/json.";
        }

        var json = type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || type.Equals("text/json", StringComparison.OrdinalIgnoreCase)
            || type.Equals("text/plain", StringComparison.OrdinalIgnoreCase)

            // What `curl -d` sends unless told otherwise: the body is still parsed as strict JSON (400 if it is not).
            || type.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase)
            || (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
        if (!json)
        {
            return $"The content type is '{type}'; the body must be JSON, sent as application/json.";
        }

        var charset = media.Charset.Value?.Trim('"');
        return charset is null || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase)
            ? null
            : $"The charset is '{charset}'; JSON bodies must be UTF-8.";
    }

    /// <summary>The path of the first property name or string value that cannot be read as a .NET string, or null.</summary>
    private static string? FindUnreadableString(JsonElement element, string path)
    {
        try
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.String:
                    _ = element.GetString();
                    break;
                case JsonValueKind.Array:
                    var i = 0;
                    foreach (var item in element.EnumerateArray())
                    {
                        if (FindUnreadableString(item, $"{path}[{i++}]") is { } bad)
                        {
                            return bad;
                        }
                    }

                    break;
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        var name = property.Name;
                        if (FindUnreadableString(property.Value, $"{path}.{name}") is { } bad)
                        {
                            return bad;
                        }
                    }

                    break;
            }

            return null;
        }
        catch (InvalidOperationException)
        {
            return path;
        }
    }

    private static ProblemHttpResult TooLarge(int maxBytes) =>
        TypedResults.Problem($"The body is larger than {maxBytes} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large.");
}
