using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Serverless.Functions.Api;

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

    /// <summary>
    /// Reads the body as JSON with a size and depth limit. Returns the document, or a 400 (malformed) /
    /// 413 (too large) problem; nothing is read past the limit.
    /// </summary>
    public static async Task<(JsonDocument? Document, ProblemHttpResult? Problem)> ReadJsonBodyAsync(
        HttpRequest request, int maxBytes, JsonDocumentOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return (null, TooLarge(maxBytes));
            }

            await buffer.WriteAsync(chunk.AsMemory(0, read), cancellationToken);
        }

        if (buffer.Length == 0)
        {
            return (null, BadRequest("The body is empty; a JSON object is required."));
        }

        try
        {
            return (JsonDocument.Parse(buffer.ToArray(), options), null);
        }
        catch (JsonException ex)
        {
            return (null, BadRequest($"The body is not valid JSON: {ex.Message}"));
        }
    }

    private static ProblemHttpResult TooLarge(int maxBytes) =>
        TypedResults.Problem($"The body is larger than {maxBytes} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large.");
}
