using System.Net;
using System.Text.Json;

namespace Serverless.Payments.Tests;

public sealed class ChargeTests(PaymentsFixture fixture) : IClassFixture<PaymentsFixture>
{
    private HttpClient Client => fixture.Server.Client;

    [Fact]
    public async Task Charge_WithFunds_DebitsTheAccountAndRecordsTheCharge()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);

        var answer = await Client.ChargeAsync(key, account, 30);

        Assert.Equal(HttpStatusCode.Created, answer.Status);
        Assert.Equal(key, answer.Text("key"));
        Assert.Equal(account, answer.Text("account"));
        Assert.Equal(30, answer.Body.GetProperty("amount").GetInt64());
        Assert.Equal("charged", answer.Text("status"));
        Assert.Equal(70, await fixture.Server.BalanceAsync(account));
        var record = await Client.ReadAsync($"/charges/{key}");
        Assert.Equal(HttpStatusCode.OK, record.Status);
        Assert.Equal("charged", record.Text("status"));
    }

    [Fact]
    public async Task Charge_WhenFundsAreShort_IsDeclinedAndTheDeclineIsRecorded()
    {
        var (account, key) = (Api.NewId("carol"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 10);

        var first = await Client.ChargeAsync(key, account, 11);
        await fixture.Server.SetBalanceAsync(account, 1000);
        var repeat = await Client.ChargeAsync(key, account, 11);

        Assert.Equal(HttpStatusCode.PaymentRequired, first.Status);
        Assert.Equal("declined", first.Text("status"));
        Assert.Equal($"insufficient funds in '{account}'", first.Text("reason"));
        Assert.Equal(HttpStatusCode.PaymentRequired, repeat.Status);
        Assert.Equal(first.Body.ToString(), repeat.Body.ToString());
        Assert.Equal(1000, await fixture.Server.BalanceAsync(account));
    }

    [Fact]
    public async Task Charge_OfAnUnknownAccount_IsDeclined()
    {
        var (account, key) = (Api.NewId("nobody"), Api.NewId("k"));

        var answer = await Client.ChargeAsync(key, account, 5);

        Assert.Equal(HttpStatusCode.PaymentRequired, answer.Status);
        Assert.Equal("declined", answer.Text("status"));
        Assert.Equal($"no account '{account}'", answer.Text("reason"));
        Assert.Null(await fixture.Server.BalanceAsync(account));
    }

    [Fact]
    public async Task Charge_RepeatedWithTheSameKeyAndBody_AnswersTheRecordAndDebitsOnce()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);

        var first = await Client.ChargeAsync(key, account, 40);
        var second = await Client.ChargeAsync(key, account, 40);
        var third = await Client.ChargeAsync(key, account, 40);

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.Equal(HttpStatusCode.OK, third.Status);
        Assert.Equal(first.Body.ToString(), second.Body.ToString());
        Assert.Equal(60, await fixture.Server.BalanceAsync(account));
    }

    [Theory]
    [InlineData(41, null)]
    [InlineData(40, "other")]
    public async Task Charge_ReusingAKeyWithAnotherBody_IsAConflictAndChangesNothing(long amount, string? otherAccount)
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        var other = Api.NewId(otherAccount ?? "alice");
        await fixture.Server.SetBalanceAsync(account, 100);
        await fixture.Server.SetBalanceAsync(other, 100);
        await Client.ChargeAsync(key, account, 40);

        var answer = await Client.ChargeAsync(key, otherAccount is null ? account : other, amount);

        Assert.Equal(HttpStatusCode.Conflict, answer.Status);
        Assert.Equal("application/problem+json", answer.ContentType);
        Assert.Contains(key, answer.Text("detail"), StringComparison.Ordinal);
        Assert.Equal(60, await fixture.Server.BalanceAsync(account));
        Assert.Equal(100, await fixture.Server.BalanceAsync(other));
        Assert.Equal(40, (await Client.ReadAsync($"/charges/{key}")).Body.GetProperty("amount").GetInt64());
    }

    [Fact]
    public async Task Refund_OfACharge_CreditsItBackOnce()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);
        await Client.ChargeAsync(key, account, 25);

        var first = await Client.RefundAsync(key);
        var second = await Client.RefundAsync(key);

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal("refunded", first.Text("status"));
        Assert.Equal(25, first.Body.GetProperty("amount").GetInt64());
        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.Equal(first.Body.ToString(), second.Body.ToString());
        Assert.Equal(100, await fixture.Server.BalanceAsync(account));
        Assert.Equal("refunded", (await Client.ReadAsync($"/charges/{key}")).Text("status"));

        // The charge repeated after its refund takes nothing either.
        var late = await Client.ChargeAsync(key, account, 25);
        Assert.Equal(HttpStatusCode.PaymentRequired, late.Status);
        Assert.Equal("refunded", late.Text("status"));
        Assert.Equal(100, await fixture.Server.BalanceAsync(account));
    }

    [Fact]
    public async Task Refund_OfADeclinedCharge_AnswersDeclinedAndCreditsNothing()
    {
        var (account, key) = (Api.NewId("carol"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 5);
        await Client.ChargeAsync(key, account, 50);

        var answer = await Client.RefundAsync(key);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("declined", answer.Text("status"));
        Assert.Equal(5, await fixture.Server.BalanceAsync(account));
    }

    [Fact]
    public async Task Refund_BeforeTheCharge_VoidsTheKeySoTheLateChargeTakesNothing()
    {
        var (account, key) = (Api.NewId("alice"), Api.NewId("k"));
        await fixture.Server.SetBalanceAsync(account, 100);

        var refund = await Client.RefundAsync(key);
        var late = await Client.ChargeAsync(key, account, 30);
        var again = await Client.RefundAsync(key);

        Assert.Equal(HttpStatusCode.OK, refund.Status);
        Assert.Equal("voided", refund.Text("status"));
        Assert.False(refund.Body.TryGetProperty("account", out _));
        Assert.Equal(HttpStatusCode.PaymentRequired, late.Status);
        Assert.Equal("voided", late.Text("status"));
        Assert.Equal("the charge was cancelled before it arrived", late.Text("reason"));
        Assert.Equal(account, late.Text("account"));
        Assert.Equal("voided", again.Text("status"));
        Assert.Equal(100, await fixture.Server.BalanceAsync(account));
        Assert.Equal(1, await fixture.Server.ChargeRequestsAsync(account));
    }

    [Theory]
    [InlineData(null, """{"account":"a","amount":1}""", "Idempotency-Key")]
    [InlineData("", """{"account":"a","amount":1}""", "Idempotency-Key")]
    [InlineData("has space", """{"account":"a","amount":1}""", "Idempotency-Key")]
    [InlineData("k", """{"amount":1}""", "account")]
    [InlineData("k", """{"account":"","amount":1}""", "account")]
    [InlineData("k", """{"account":7,"amount":1}""", "account")]
    [InlineData("k", """{"account":"a"}""", "amount")]
    [InlineData("k", """{"account":"a","amount":0}""", "amount")]
    [InlineData("k", """{"account":"a","amount":-3}""", "amount")]
    [InlineData("k", """{"account":"a","amount":1.5}""", "amount")]
    [InlineData("k", """{"account":"a","amount":"1"}""", "amount")]
    [InlineData("k", "not json", "body")]
    [InlineData("k", "[1]", "body")]
    public async Task Charge_WithBadInput_IsRejectedNamingTheField(string? key, string body, string field)
    {
        var answer = await Client.ChargeAsync(key, body);

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Equal("application/problem+json", answer.ContentType);
        Assert.Contains(field, answer.Text("detail"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Charge_WithAKeyOf129Characters_IsRejected()
    {
        var answer = await Client.ChargeAsync(new string('k', 129), """{"account":"a","amount":1}""");

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
    }

    [Theory]
    [InlineData("""{"balance":-1}""")]
    [InlineData("""{"balance":1.5}""")]
    [InlineData("""{"balance":"10"}""")]
    [InlineData("""{}""")]
    public async Task PutAccount_WithABadBalance_IsRejectedNamingTheField(string body)
    {
        var answer = await Client.PutAsync($"/accounts/{Api.NewId("a")}", body);

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Equal("application/problem+json", answer.ContentType);
        Assert.Contains("balance", answer.Text("detail"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accounts_AreListedSortedWithTheirBalances()
    {
        var prefix = Api.NewId("list");
        await fixture.Server.SetBalanceAsync($"{prefix}-b", 2);
        await fixture.Server.SetBalanceAsync($"{prefix}-a", 1);

        var answer = await Client.ReadAsync("/accounts");
        var missing = await Client.ReadAsync($"/accounts/{prefix}-c");

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var items = answer.Body.GetProperty("items").EnumerateArray().ToList();
        var ids = items.Select(item => item.GetProperty("account").GetString()!).ToList();
        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        var mine = items.Where(item => item.GetProperty("account").GetString()!.StartsWith(prefix, StringComparison.Ordinal))
            .Select(item => (item.GetProperty("account").GetString(), item.GetProperty("balance").GetInt64()));
        Assert.Equal([($"{prefix}-a", 1L), ($"{prefix}-b", 2L)], mine);
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal(JsonValueKind.String, missing.Body.GetProperty("detail").ValueKind);
    }

    [Fact]
    public async Task GetCharge_OfAnUnknownKey_IsNotFound()
    {
        var answer = await Client.ReadAsync($"/charges/{Api.NewId("k")}");

        Assert.Equal(HttpStatusCode.NotFound, answer.Status);
    }
}
