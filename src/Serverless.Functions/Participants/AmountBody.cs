using System.Text.Json;
using Serverless.Functions.Http;
using Serverless.Participants.Tables;

namespace Serverless.Functions.Participants;

/// <summary>The body of the sample participants' seeding routes: <c>{"field": n}</c>, n a whole number from 0 to 10^15.</summary>
public static class AmountBody
{
    private const long MaxAmount = 1_000_000_000_000_000;

    /// <summary>Reads <c>{"field": n}</c>, validating the resource id <paramref name="key"/> too; a problem when either is bad.</summary>
    public static async Task<(long Value, IResult? Problem)> ReadAsync(HttpRequest request, string key, string field, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!TableResourceManager<object>.IsValidKey(key))
        {
            errors["id"] = ["Must be 1-64 letters, digits, '-', '_' or '.'."];
        }

        var (body, problem) = await Problems.ReadJsonBodyAsync(request, 4096, cancellationToken);
        if (problem is not null)
        {
            return (0, problem);
        }

        using (body)
        {
            long value = 0;
            if (body!.RootElement.ValueKind != JsonValueKind.Object || !body.RootElement.TryGetProperty(field, out var v)
                || v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out value) || value is < 0 or > MaxAmount)
            {
                errors[field] = ["Required: a whole number from 0 to 10^15 (minor units)."];
            }

            return errors.Count > 0 ? (0, Problems.Validation(errors)) : (value, null);
        }
    }

    /// <summary>A 404 problem for a sample resource.</summary>
    public static IResult NotFound(string what) =>
        TypedResults.Problem($"no {what}", statusCode: StatusCodes.Status404NotFound, title: "Not found.");
}
