using System.Net;
using System.Text.Json;
using Serverless.Participants.Payments;

namespace Serverless.Payments.Tests;

/// <summary>
/// The app's client of the service (<see cref="PaymentsClient"/>, the <c>payments</c> saga participant) against the real
/// process: only a decline or a cancelled charge is "not applied"; a key conflict (409) and a wrong key (401) throw, so
/// that the outcome counts as unknown rather than as a decline.
/// </summary>
public sealed class PaymentsClientTests(PaymentsFixture fixture) : IClassFixture<PaymentsFixture>
{
    [Fact]
    public async Task ACharge_WithTheServicesKey_IsDone_AndARepeatTakesTheMoneyOnce()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        using var http = Http();
        var client = new PaymentsClient(http, fixture.Server.ApiKey);

        var first = await client.ApplyAsync(key, Charge(account, 30), CancellationToken.None);
        var repeat = await client.ApplyAsync(key, Charge(account, 30), CancellationToken.None);

        Assert.True(first.Applied);
        Assert.True(repeat.Applied);
        Assert.Equal(70, await fixture.Server.BalanceAsync(account));
    }

    [Fact]
    public async Task ACharge_DeclinedForFunds_IsNotApplied_NamingTheReason()
    {
        var (account, key) = (Api.NewId("carol"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 10);
        using var http = Http();

        var result = await new PaymentsClient(http, fixture.Server.ApiKey).ApplyAsync(key, Charge(account, 30), CancellationToken.None);

        Assert.False(result.Applied);
        Assert.Equal($"insufficient funds in '{account}'", result.Reason);
    }

    [Fact]
    public async Task ACharge_CancelledByItsCompensationBeforeItArrived_IsNotApplied_AndTakesNothing()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        using var http = Http();
        var client = new PaymentsClient(http, fixture.Server.ApiKey);

        await client.CompensateAsync(key, CancellationToken.None);
        var result = await client.ApplyAsync(key, Charge(account, 30), CancellationToken.None);

        Assert.False(result.Applied);
        Assert.Equal("the charge was cancelled before it arrived", result.Reason);
        Assert.Equal(100, await fixture.Server.BalanceAsync(account));
    }

    [Fact]
    public async Task ACharge_TheServiceRejectsAsMalformed_IsNotApplied_NamingTheField()
    {
        using var http = Http();

        var result = await new PaymentsClient(http, fixture.Server.ApiKey).ApplyAsync(Api.NewId("k"), Charge("has space", 5), CancellationToken.None);

        Assert.False(result.Applied);
        Assert.StartsWith("account must be", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACharge_WhoseKeyAlreadyHoldsAnotherCharge_Throws_RatherThanReadingAsADecline()
    {
        var (someone, account, key) = (Api.NewId("someone"), Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(someone, 100);
        await fixture.Server.SetBalanceAsync(account, 100);
        Assert.Equal(HttpStatusCode.Created, (await fixture.Server.Client.ChargeAsync(key, someone, 40)).Status);
        using var http = Http();

        var error = await Assert.ThrowsAsync<HttpRequestException>(
            () => new PaymentsClient(http, fixture.Server.ApiKey).ApplyAsync(key, Charge(account, 40), CancellationToken.None));

        Assert.Equal(HttpStatusCode.Conflict, error.StatusCode);
        Assert.Contains($"Idempotency-Key '{key}' already holds another charge", error.Message, StringComparison.Ordinal);
        Assert.Equal(100, await fixture.Server.BalanceAsync(account));
        Assert.Equal(60, await fixture.Server.BalanceAsync(someone));
        Assert.Equal("charged", (await fixture.Server.Client.ReadAsync($"/charges/{key}")).Text("status"));
    }

    [Fact]
    public async Task ACharge_WithAKeyThatIsNotTheServices_Throws_NamingPAYMENTS_API_KEY_AndTakesNothing()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        using var http = Http();

        var error = await Assert.ThrowsAsync<HttpRequestException>(
            () => new PaymentsClient(http, WrongKey).ApplyAsync(key, Charge(account, 30), CancellationToken.None));

        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Contains("PAYMENTS_API_KEY", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(WrongKey, error.Message, StringComparison.Ordinal);
        Assert.Equal(100, await fixture.Server.BalanceAsync(account));
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Server.Client.ReadAsync($"/charges/{key}")).Status);
    }

    [Fact]
    public async Task ARefund_WithAKeyThatIsNotTheServices_Throws_NamingPAYMENTS_API_KEY_AndRefundsNothing()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        using var http = Http();
        await new PaymentsClient(http, fixture.Server.ApiKey).ApplyAsync(key, Charge(account, 30), CancellationToken.None);

        var error = await Assert.ThrowsAsync<HttpRequestException>(
            () => new PaymentsClient(http, WrongKey).CompensateAsync(key, CancellationToken.None));

        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Contains("PAYMENTS_API_KEY", error.Message, StringComparison.Ordinal);
        Assert.Equal(70, await fixture.Server.BalanceAsync(account));
        Assert.Equal("charged", (await fixture.Server.Client.ReadAsync($"/charges/{key}")).Text("status"));
    }

    [Fact]
    public async Task ARefund_WithTheServicesKey_GivesTheMoneyBack()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        using var http = Http();
        var client = new PaymentsClient(http, fixture.Server.ApiKey);
        await client.ApplyAsync(key, Charge(account, 30), CancellationToken.None);

        await client.CompensateAsync(key, CancellationToken.None);

        Assert.Equal(100, await fixture.Server.BalanceAsync(account));
        Assert.Equal("refunded", (await fixture.Server.Client.ReadAsync($"/charges/{key}")).Text("status"));
    }

    private static string WrongKey { get; } = Convert.ToBase64String(new byte[48]);

    private static string Charge(string account, long amount) => JsonSerializer.Serialize(new { type = "charge", account, amount });

    // No default Authorization header: the client under test adds its own bearer to each request.
    private HttpClient Http() => new() { BaseAddress = fixture.Server.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
}
