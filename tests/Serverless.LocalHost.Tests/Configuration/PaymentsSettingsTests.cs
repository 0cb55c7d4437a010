using Microsoft.Extensions.Configuration;
using Serverless.Functions.Hosting;
using Serverless.Functions.Settings;
using Serverless.LocalHost;

namespace Serverless.LocalHost.Tests.Configuration;

/// <summary>
/// <c>PAYMENTS_API_KEY</c>, the payment service's key the app sends as its bearer: required with <c>PAYMENTS_URL</c>, at
/// least 32 bytes, never shown in an error.
/// </summary>
public sealed class PaymentsSettingsTests
{
    private const string SigningKey = "the-current-signing-key-0123456789abcdef";
    private const string PaymentsKey = "the-payment-services-key-0123456789abcdef";

    [Fact]
    public void PaymentsApiKey_IsReadWithThePaymentsUrl()
    {
        var settings = From("http://127.0.0.1:7072", $"  {PaymentsKey} ");

        Assert.Equal(new Uri("http://127.0.0.1:7072/"), settings.PaymentsUrl);
        Assert.Equal(PaymentsKey, settings.PaymentsApiKey);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void WithoutAPaymentsUrl_NoKeyIsNeeded(string? url)
    {
        var settings = From(url, null);

        Assert.Null(settings.PaymentsUrl);
        Assert.Null(settings.PaymentsApiKey);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void PaymentsApiKey_WhenNotSetButThePaymentsUrlIs_RefusesToStartNamingTheSetting(string? key)
    {
        var error = Assert.Throws<InvalidOperationException>(() => From("http://127.0.0.1:7072", key));

        Assert.StartsWith("PAYMENTS_API_KEY is not set, but PAYMENTS_URL is", error.Message, StringComparison.Ordinal);
        Assert.Contains("./run.sh", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("s3cr3t")]
    [InlineData("0123456789012345678901234567890")]
    public void PaymentsApiKey_ShorterThanThirtyTwoBytes_RefusesToStartWithoutShowingTheKey(string key)
    {
        var error = Assert.Throws<InvalidOperationException>(() => From("http://127.0.0.1:7072", key));

        Assert.StartsWith($"PAYMENTS_API_KEY is too short: {key.Length} bytes, at least 32 are required", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_OfTheHostWithAPaymentsUrlAndNoKey_RefusesToStartNamingTheSetting()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LocalFunctionsHost.Build([], new Dictionary<string, string?>
        {
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/30 * * * * *",
            ["TRANSACTIONS_SIGNING_KEY"] = SigningKey,
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
            ["PAYMENTS_URL"] = "http://127.0.0.1:7072",
            ["PAYMENTS_API_KEY"] = "",
        }));

        Assert.StartsWith("PAYMENTS_API_KEY is not set, but PAYMENTS_URL is", error.Message, StringComparison.Ordinal);
    }

    private static TransactionsSettings From(string? url, string? key) => TransactionsSettings.From(
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TRANSACTIONS_SIGNING_KEY"] = SigningKey,
            ["PAYMENTS_URL"] = url,
            ["PAYMENTS_API_KEY"] = key,
        }).Build());
}
