using System.Security.Cryptography;
using System.Text;

namespace Serverless.Functions.Api;

/// <summary>
/// Requires the configured API key in the <c>x-functions-key</c> header or the <c>code</c> query parameter
/// (the two places Azure Functions reads function keys from); 401 otherwise.
/// </summary>
public sealed class ApiKeyFilter(string apiKey) : IEndpointFilter
{
    private readonly byte[] _key = SHA256.HashData(Encoding.UTF8.GetBytes(apiKey));

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var request = context.HttpContext.Request;
        var given = request.Headers["x-functions-key"].FirstOrDefault() ?? request.Query["code"].FirstOrDefault();
        if (given is null || !CryptographicOperations.FixedTimeEquals(_key, SHA256.HashData(Encoding.UTF8.GetBytes(given))))
        {
            return TypedResults.Problem(
                "a valid API key is required in the x-functions-key header or the code query parameter",
                statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized.");
        }

        return await next(context);
    }
}
