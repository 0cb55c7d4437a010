using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.Hosting;
using Serverless.Functions.Settings;
using Serverless.LocalHost;
using Serverless.LocalHost.Catalog;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// The management API's key, on every HTTP function the app declares (found from its own <c>[Function]</c> declarations, so a
/// new route is covered the day it is added): on Azure, Functions' own keys (<see cref="AuthorizationLevel.Function"/>); on the
/// local host, <c>TRANSACTIONS_API_KEY</c> the same way, in the <c>x-functions-key</c> header or the <c>code</c> query parameter.
/// Only health is open.
/// </summary>
public sealed partial class ApiKeyTests(ApiKeyTests.Fixture fixture) : IClassFixture<ApiKeyTests.Fixture>
{
    private const string ApiKey = "the-api-key-of-these-tests-0123456789";

    private static readonly IReadOnlyList<LocalFunction> HttpFunctions =
        [.. FunctionCatalog.Load(typeof(TransactionsSettings).Assembly).Where(f => f.Trigger == TriggerKind.Http)];

    /// <summary>Every HTTP function but health, with a method it answers and a concrete path; and Prometheus' endpoint.</summary>
    public static TheoryData<string, string, string> ProtectedRoutes
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            foreach (var function in HttpFunctions.Where(f => f.Name != "Health"))
            {
                data.Add(function.Name, function.HttpMethods.FirstOrDefault() ?? "GET", "/api/" + RouteParameter().Replace(function.Target!, "x"));
            }

            data.Add("Prometheus", "GET", LocalFunctionsHost.PrometheusPath);
            return data;
        }
    }

    [Fact]
    public void OnAzure_EveryHttpFunctionButHealth_RequiresAFunctionKey()
    {
        Assert.Contains(HttpFunctions, f => f.Name == "Dashboard");
        Assert.All(
            HttpFunctions,
            f => Assert.Equal(f.Name == "Health" ? AuthorizationLevel.Anonymous : AuthorizationLevel.Function, f.AuthLevel));
    }

    [Theory]
    [MemberData(nameof(ProtectedRoutes))]
    public async Task OnTheLocalHost_EveryRouteButHealth_Is401WithoutOrWithAWrongKey_AndServedWithTheRightOne(string function, string method, string path)
    {
        var without = await SendAsync(method, path);
        Assert.True(without.StatusCode == HttpStatusCode.Unauthorized, $"{function}: {without.StatusCode} without a key");
        Assert.Equal("application/problem+json", without.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(method, path, header: "not-the-api-key-0123456789")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(method, path, code: "not-the-api-key-0123456789")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(method, path, header: ApiKey[..^1])).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(method, path, header: string.Empty)).StatusCode);

        var header = await SendAsync(method, path, header: ApiKey);
        var code = await SendAsync(method, path, code: ApiKey);
        Assert.True(header.StatusCode != HttpStatusCode.Unauthorized, $"{function}: 401 with the right key in the header");
        Assert.True(code.StatusCode != HttpStatusCode.Unauthorized, $"{function}: 401 with the right key as code");
    }

    [Fact]
    public async Task OnTheLocalHost_Health_NeedsNoKey()
    {
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("GET", "/api/health")).StatusCode);
    }

    private async Task<HttpResponseMessage> SendAsync(string method, string path, string? header = null, string? code = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), code is null ? path : $"{path}?code={Uri.EscapeDataString(code)}");
        if (header is not null)
        {
            request.Headers.Add("x-functions-key", header);
        }

        if (method is "POST" or "PUT")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        return await fixture.Host.Client.SendAsync(request);
    }

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();

    /// <summary>A host with an API key.</summary>
    public sealed class Fixture : HostFixture
    {
        protected override IReadOnlyDictionary<string, string?>? Settings() => new Dictionary<string, string?> { ["TRANSACTIONS_API_KEY"] = ApiKey };
    }
}
