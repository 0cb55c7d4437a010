using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Serverless.Functions.Tests;

public sealed class SmokeTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    [Fact]
    public async Task Transfer_BetweenTwoFundedAccounts_Commits()
    {
        var host = fixture.Host;
        var (from, to) = (TestHost.Id("a"), TestHost.Id("b"));
        await host.PutAccountAsync(from, 100);
        await host.PutAccountAsync(to, 0);

        var response = await host.StartAsync(TestHost.Transfer(TestHost.Id("tx"), from, to, 30), waitSeconds: 30);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var doc = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.Equal((70, 0), await host.GetAccountAsync(from));
        Assert.Equal((30, 0), await host.GetAccountAsync(to));
    }
}
