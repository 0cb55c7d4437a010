using System.Net;
using System.Text;
using System.Text.Json;

namespace Serverless.Payments.Tests;

/// <summary>Every route answers 401 without <c>Authorization: Bearer {PAYMENTS_API_KEY}</c>, and changes nothing.</summary>
public sealed class AuthenticationTests(PaymentsFixture fixture) : IClassFixture<PaymentsFixture>
{
    /// <summary>Every route of the service, <c>/health</c> and a path that is no route included.</summary>
    public static TheoryData<string, string> Routes => new()
    {
        { "GET", "/health" },
        { "GET", "/accounts" },
        { "GET", "/accounts/alice" },
        { "PUT", "/accounts/alice" },
        { "POST", "/charges" },
        { "GET", "/charges/k-1" },
        { "POST", "/charges/k-1/refund" },
        { "GET", "/faults/alice" },
        { "PUT", "/faults/alice" },
        { "DELETE", "/faults/alice" },
        { "GET", "/no-such-route" },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task EveryRoute_WithoutAnAuthorizationHeader_Answers401WithAProblemAndABearerChallenge(string method, string path)
    {
        using var client = fixture.Server.ClientWithBearer(null);

        using var response = await SendAsync(client, method, path);

        await AssertRefusedAsync(response, "no Authorization header");
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task EveryRoute_WithAWrongBearerKey_Answers401WithAProblemAndABearerChallenge(string method, string path)
    {
        var wrong = Convert.ToBase64String(Encoding.UTF8.GetBytes(new string('x', 48)));
        using var client = fixture.Server.ClientWithBearer(wrong);

        using var response = await SendAsync(client, method, path);

        await AssertRefusedAsync(response, "is not this service's PAYMENTS_API_KEY");
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Basic {key}")]
    [InlineData("{key}")]
    [InlineData("Bearer")]
    [InlineData("Bearer ")]
    [InlineData("Bearer{key}")]
    public async Task TheKey_NotAsABearerCredential_Answers401(string header)
    {
        using var client = fixture.Server.ClientWithBearer(null);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        request.Headers.TryAddWithoutValidation("Authorization", header.Replace("{key}", fixture.Server.ApiKey, StringComparison.Ordinal));

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task TheKeyWithAByteMoreOrLess_Answers401()
    {
        var key = fixture.Server.ApiKey;
        var otherFirst = key[0] == 'A' ? "B" : "A"; // a random key starts with 'A' once in 64
        foreach (var almost in new[] { key[..^1], key + "A", otherFirst + key[1..] })
        {
            using var client = fixture.Server.ClientWithBearer(almost);
            using var response = await client.GetAsync("/health");
            Assert.NotEqual(key, almost);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task Health_WithTheKey_AnswersOk()
    {
        using var response = await fixture.Server.Client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ARefusedChargeAndRefund_ChangeNothing_AndAreNotCounted()
    {
        var (account, charged, other) = (Api.NewId("alice"), Api.NewId("k"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        await fixture.Server.Client.ChargeAsync(charged, account, 30);
        using var stranger = fixture.Server.ClientWithBearer(null);

        var charge = await stranger.ChargeAsync(other, account, 50);
        var refund = await stranger.RefundAsync(charged);

        Assert.Equal(HttpStatusCode.Unauthorized, charge.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, refund.Status);
        Assert.Equal(70, await fixture.Server.BalanceAsync(account));
        Assert.Equal("charged", (await fixture.Server.Client.ReadAsync($"/charges/{charged}")).Text("status"));
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Server.Client.ReadAsync($"/charges/{other}")).Status);
        Assert.Equal(1, await fixture.Server.ChargeRequestsAsync(account));
        Assert.Equal(0, await fixture.Server.RefundRequestsAsync(account));
    }

    [Fact]
    public async Task TheKey_IsNeverInTheServicesOutput()
    {
        using var stranger = fixture.Server.ClientWithBearer(fixture.Server.ApiKey[..^2]);
        using (await stranger.GetAsync("/accounts"))
        {
        }

        await fixture.Server.SetBalanceAsync(Api.NewId("alice"), 1);

        Assert.Contains("401", fixture.Server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(fixture.Server.ApiKey[..^2], fixture.Server.Output, StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is "PUT" or "POST")
        {
            request.Content = new StringContent("""{"balance":1,"account":"alice","amount":1,"charge":"fail"}""", Encoding.UTF8, "application/json");
            request.Headers.Add("Idempotency-Key", Api.NewId("k"));
        }

        return await client.SendAsync(request);
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string detail)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        var problem = JsonSerializer.Deserialize<JsonElement>(await response.Content.ReadAsStringAsync());
        Assert.Equal(401, problem.GetProperty("status").GetInt32());
        Assert.Contains(detail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
