using Microsoft.Extensions.Configuration;
using Serverless.Functions.Hosting;

namespace Serverless.LocalHost.Tests.Configuration;

/// <summary>The app's own settings (<see cref="TransactionsSettings.From"/>): defaults, and a clear error on a bad value.</summary>
public sealed class TransactionsSettingsTests
{
    [Fact]
    public void HistoryRetention_WhenNotSet_IsThreeDays()
    {
        Assert.Equal(TimeSpan.FromDays(3), From(null).HistoryRetention);
        Assert.Equal(TimeSpan.FromDays(3), From("  ").HistoryRetention);
    }

    [Theory]
    [InlineData("3.00:00:00", 3 * 86400)]
    [InlineData("1.12:00:00", 36 * 3600)]
    [InlineData("00:00:02", 2)]
    [InlineData(" 0.06:30:00 ", (6 * 3600) + (30 * 60))]
    [InlineData("3650.00:00:00", 3650 * 86400)]
    public void HistoryRetention_ReadsADaysHoursMinutesSecondsSpan(string text, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), From(text).HistoryRetention);
    }

    [Theory]
    [InlineData("three days")]
    [InlineData("72:00:00")]
    [InlineData("00:00:00")]
    [InlineData("-1.00:00:00")]
    [InlineData("3651.00:00:00")]
    [InlineData("3 days")]
    public void HistoryRetention_WhenBad_FailsNamingTheSettingTheFormAndTheValue(string text)
    {
        var error = Assert.Throws<InvalidOperationException>(() => From(text));

        Assert.Equal(
            $"TRANSACTIONS_HISTORY_RETENTION must be a time span \"d.hh:mm:ss\" from 00:00:01 to 3650 days (e.g. \"3.00:00:00\" for three days); it is '{text.Trim()}'.",
            error.Message);
    }

    private static TransactionsSettings From(string? retention) => TransactionsSettings.From(
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["TRANSACTIONS_HISTORY_RETENTION"] = retention }).Build());
}
