using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.Api.Dashboard;

namespace Serverless.Functions.Api;

/// <summary>
/// <c>GET /api/dashboard</c>: the operators' page (<see cref="DashboardPage"/>), under the same key rule as the API it calls:
/// open it as <c>/api/dashboard?code=KEY</c> and the page sends that key on its calls.
/// </summary>
public sealed class DashboardFunctions
{
    [Function("Dashboard")]
    public IResult Dashboard([HttpTrigger(AuthorizationLevel.Function, "get", Route = "dashboard")] HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var headers = request.HttpContext.Response.Headers;
        headers.ContentSecurityPolicy = DashboardPage.ContentSecurityPolicy;
        headers.CacheControl = "no-store";
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        // The key may be in the address: send it nowhere else.
        headers["Referrer-Policy"] = "no-referrer";
        return TypedResults.Content(DashboardPage.Html, "text/html; charset=utf-8");
    }
}
