using System.Net;
using System.Text;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Management;

/// <summary>
/// The Durable management API's key: on Azure the system key in <c>code</c>; on the local host, when <c>TRANSACTIONS_API_KEY</c>
/// is set, that key, in <c>code</c> or <c>x-functions-key</c>, as on the app's own routes.
/// </summary>
public sealed class ManagementApiKeyTests(ManagementApiKeyTests.Fixture fixture) : IClassFixture<ManagementApiKeyTests.Fixture>
{
    private const string ApiKey = "the-management-key-of-these-tests-0123456789";

    /// <summary>Every route of the API with a method it answers, on an instance that does not exist.</summary>
    public static TheoryData<string, string> Routes => new()
    {
        { "GET", ManagementCalls.Instances },
        { "GET", ManagementCalls.Instance("nobody") },
        { "DELETE", ManagementCalls.Instance("nobody") },
        { "POST", ManagementCalls.Instance("nobody", "/terminate") },
        { "POST", ManagementCalls.Instance("nobody", "/suspend") },
        { "POST", ManagementCalls.Instance("nobody", "/resume") },
        { "POST", ManagementCalls.Instance("nobody", "/raiseEvent/Abort") },
        { "POST", ManagementCalls.Instance("nobody", "/rewind") },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task WithAnApiKeySet_EveryRouteIs401WithoutOrWithAWrongKey_AndAnsweredWithTheKeyInCodeOrHeader(string method, string path)
    {
        using var without = await SendAsync(method, path);
        using var wrongHeader = await SendAsync(method, path, header: "not-the-management-key-0123456789");
        using var wrongCode = await SendAsync(method, path, code: ApiKey[..^1]);
        using var header = await SendAsync(method, path, header: ApiKey);
        using var code = await SendAsync(method, path, code: ApiKey);

        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.Equal("application/problem+json", without.Content.Headers.ContentType?.MediaType);
        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized), (wrongHeader.StatusCode, wrongCode.StatusCode));
        var expected = path == ManagementCalls.Instances ? HttpStatusCode.OK
            : path.EndsWith("/rewind", StringComparison.Ordinal) ? HttpStatusCode.NotImplemented
            : HttpStatusCode.NotFound;
        Assert.Equal((expected, expected), (header.StatusCode, code.StatusCode));
    }

    private async Task<HttpResponseMessage> SendAsync(string method, string path, string? header = null, string? code = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), code is null ? path : $"{path}?code={Uri.EscapeDataString(code)}");
        if (header is not null)
        {
            request.Headers.Add("x-functions-key", header);
        }

        if (method == "POST")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        return await fixture.Host.Client.SendAsync(request);
    }

    /// <summary>A host of the coordinator app with an API key.</summary>
    public sealed class Fixture : HostFixture
    {
        protected override IReadOnlyDictionary<string, string?>? Settings() => new Dictionary<string, string?> { ["TRANSACTIONS_API_KEY"] = ApiKey };
    }
}
