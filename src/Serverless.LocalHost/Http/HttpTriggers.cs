using System.Security.Cryptography;
using System.Text;
using Microsoft.Azure.Functions.Worker;
using Serverless.LocalHost.Catalog;
using Serverless.LocalHost.Invocation;

namespace Serverless.LocalHost.Http;

/// <summary>
/// Serves the app's HTTP functions on ASP.NET Core: route <c>api/{route}</c> with the declared methods, the function's
/// <see cref="IResult"/> executed as the response. A function whose authorization level is not Anonymous requires
/// <c>TRANSACTIONS_API_KEY</c>, when set, in the <c>x-functions-key</c> header or the <c>code</c> query parameter, as Functions
/// requires its keys on Azure; otherwise 401.
/// </summary>
public static class HttpTriggers
{
    public static void MapHttpFunctions(this WebApplication app, IEnumerable<LocalFunction> functions, string? apiKey)
    {
        ArgumentNullException.ThrowIfNull(app);
        foreach (var function in functions.Where(f => f.Trigger == TriggerKind.Http))
        {
            var requiresKey = apiKey is not null && function.AuthLevel != AuthorizationLevel.Anonymous;
            var pattern = $"/api/{function.Target!.TrimStart('/')}";
            RequestDelegate handler = async context =>
            {
                if (requiresKey && !HasKey(context.Request, apiKey!))
                {
                    await Unauthorized().ExecuteAsync(context);
                    return;
                }

                var invoker = context.RequestServices.GetRequiredService<FunctionInvoker>();
                var result = await invoker.InvokeAsync(function, context.Request, context.RequestAborted, http: context, scope: context.RequestServices);
                if (result is IResult response)
                {
                    await response.ExecuteAsync(context);
                }
                else
                {
                    context.Response.StatusCode = StatusCodes.Status204NoContent;
                }
            };
            var endpoint = function.HttpMethods.Count == 0 ? app.Map(pattern, handler) : app.MapMethods(pattern, function.HttpMethods, handler);
            endpoint.WithDisplayName(function.Name);
        }
    }

    /// <summary>
    /// Requires <paramref name="apiKey"/>, when set, on a path the host serves that is not a function (Prometheus' scraping
    /// endpoint), the same way as on the functions: only health is open.
    /// </summary>
    public static void RequireApiKey(this WebApplication app, PathString path, string? apiKey)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (apiKey is null)
        {
            return;
        }

        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments(path, StringComparison.OrdinalIgnoreCase) && !HasKey(context.Request, apiKey))
            {
                await Unauthorized().ExecuteAsync(context);
                return;
            }

            await next(context);
        });
    }

    private static IResult Unauthorized() => TypedResults.Problem(
        "a valid API key is required in the x-functions-key header or the code query parameter",
        statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized.");

    private static bool HasKey(HttpRequest request, string apiKey)
    {
        var given = request.Headers["x-functions-key"].FirstOrDefault() ?? request.Query["code"].FirstOrDefault();
        return given is not null && CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)), SHA256.HashData(Encoding.UTF8.GetBytes(given)));
    }
}
