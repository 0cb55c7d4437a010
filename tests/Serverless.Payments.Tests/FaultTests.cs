using System.Net;

namespace Serverless.Payments.Tests;

public sealed class FaultTests(PaymentsFixture fixture) : IClassFixture<PaymentsFixture>
{
    private HttpClient Client => fixture.Server.Client;

    [Fact]
    public async Task ChargeFault_Fail_Answers503AndChangesNothing()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        await fixture.Server.SetFaultAsync(account, charge: "fail");

        var failed = await Client.ChargeAsync(key, account, 10);
        await fixture.Server.ClearFaultAsync(account);
        var retried = await Client.ChargeAsync(key, account, 10);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.Status);
        Assert.Equal("application/problem+json", failed.ContentType);
        Assert.Equal(HttpStatusCode.Created, retried.Status);
        Assert.Equal(90, await fixture.Server.BalanceAsync(account));
        Assert.Equal(2, await fixture.Server.ChargeRequestsAsync(account));
    }

    [Fact]
    public async Task ChargeFault_Hang_NeverAnswersAndChangesNothing()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        await fixture.Server.SetFaultAsync(account, charge: "hang");

        using var clientTimeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.ChargeAsync(key, account, 10, clientTimeout.Token));

        Assert.Equal(100, await fixture.Server.BalanceAsync(account));
        Assert.Equal(HttpStatusCode.NotFound, (await Client.ReadAsync($"/charges/{key}")).Status);
        await fixture.Server.ClearFaultAsync(account);
        Assert.Equal(HttpStatusCode.Created, (await Client.ChargeAsync(key, account, 10)).Status);
        Assert.Equal(2, await fixture.Server.ChargeRequestsAsync(account));
    }

    [Fact]
    public async Task ChargeFault_Lose_TakesTheChargeSoTheRetryGetsItWithoutASecondDebit()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        await fixture.Server.SetFaultAsync(account, charge: "lose", times: 1);

        var lost = await Client.ChargeAsync(key, account, 30);
        var retried = await Client.ChargeAsync(key, account, 30);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, lost.Status);
        Assert.Equal(HttpStatusCode.OK, retried.Status);
        Assert.Equal("charged", retried.Text("status"));
        Assert.Equal(70, await fixture.Server.BalanceAsync(account));
        Assert.Equal(2, await fixture.Server.ChargeRequestsAsync(account));
    }

    [Fact]
    public async Task Fault_WithTimes2_AppliesToTwoRequestsThenClearsItself()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        await fixture.Server.SetFaultAsync(account, charge: "fail", times: 2);

        var first = await Client.ChargeAsync(key, account, 10);
        var midway = await fixture.Server.FaultsAsync(account);
        var second = await Client.ChargeAsync(key, account, 10);
        var third = await Client.ChargeAsync(key, account, 10);
        var after = await fixture.Server.FaultsAsync(account);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.Status);
        Assert.Equal(1, midway.GetProperty("times").GetInt32());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.Status);
        Assert.Equal(HttpStatusCode.Created, third.Status);
        Assert.False(after.TryGetProperty("charge", out _), $"the fault is still set: {after}");
        Assert.Equal(3, after.GetProperty("chargeRequests").GetInt64());
        Assert.Equal(90, await fixture.Server.BalanceAsync(account));
    }

    [Fact]
    public async Task RefundFault_Fail_Answers503AndTheRetryRefundsOnce()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        await Client.ChargeAsync(key, account, 30);
        await fixture.Server.SetFaultAsync(account, charge: null, refund: "fail", times: 1);

        var failed = await Client.RefundAsync(key);
        var charged = await Client.ReadAsync($"/charges/{key}");
        var retried = await Client.RefundAsync(key);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.Status);
        Assert.Equal("charged", charged.Text("status"));
        Assert.Equal(HttpStatusCode.OK, retried.Status);
        Assert.Equal("refunded", retried.Text("status"));
        Assert.Equal(100, await fixture.Server.BalanceAsync(account));
        Assert.Equal(2, await fixture.Server.RefundRequestsAsync(account));
    }

    [Fact]
    public async Task RefundFault_Hang_NeverAnswersAndCreditsNothing()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        await Client.ChargeAsync(key, account, 30);
        await fixture.Server.SetFaultAsync(account, charge: null, refund: "hang");

        using var clientTimeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.RefundAsync(key, clientTimeout.Token));

        Assert.Equal(70, await fixture.Server.BalanceAsync(account));
        Assert.Equal(1, await fixture.Server.RefundRequestsAsync(account));
    }

    [Fact]
    public async Task RefundFault_DoesNotApplyToAKeyNeverCharged()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetFaultAsync(account, charge: null, refund: "fail");

        var answer = await Client.RefundAsync(key);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("voided", answer.Text("status"));
        Assert.Equal(0, await fixture.Server.RefundRequestsAsync(account));
    }

    [Theory]
    [InlineData("""{"charge":"explode"}""", "charge")]
    [InlineData("""{"refund":"lose"}""", "refund")]
    [InlineData("""{"charge":"fail","times":0}""", "times")]
    [InlineData("""{"charge":"fail","times":"2"}""", "times")]
    public async Task PutFault_WithABadBody_IsRejectedNamingTheField(string body, string field)
    {
        var answer = await Client.PutAsync($"/faults/{Api.NewId("a")}", body);

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.StartsWith(field, answer.Text("detail"), StringComparison.Ordinal);
    }
}
