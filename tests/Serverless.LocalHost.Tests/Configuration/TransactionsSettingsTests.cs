using System.Text;
using Microsoft.Extensions.Configuration;
using Serverless.Core.Messaging;
using Serverless.Functions.Hosting;
using Serverless.Functions.Settings;

namespace Serverless.LocalHost.Tests.Configuration;

/// <summary>The app's own settings (<see cref="TransactionsSettings.From"/>): defaults, and a clear error on a bad or missing value.</summary>
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
    [InlineData("01:00:30", 3630)]
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

    [Theory]
    [InlineData("00:00:02", null)]
    [InlineData("01:00:29", null)]
    [InlineData("01:00:59", "60")]
    public void HistoryRetention_ShorterThanTheLongestDeadlinePlusTheLocalDeliveryLease_IsRefused(string retention, string? lease)
    {
        var error = Assert.Throws<InvalidOperationException>(() => TransactionsSettings.From(
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["TRANSACTIONS_HISTORY_RETENTION"] = retention,
                ["TRANSACTIONS_LOCAL_DELIVERY_LEASE_SECONDS"] = lease,
                ["TRANSACTIONS_SIGNING_KEY"] = Current,
            }).Build()));

        Assert.StartsWith($"TRANSACTIONS_HISTORY_RETENTION is {retention}, shorter than the longest vote deadline", error.Message, StringComparison.Ordinal);
        Assert.EndsWith($"Set it to at least {(lease is null ? "01:00:30" : "01:01:00")}.", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void SigningKey_WhenNotSet_RefusesToStartNamingTheSettingAndHowToMakeOne(string? key)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Keys(key));

        Assert.StartsWith("TRANSACTIONS_SIGNING_KEY is not set.", error.Message, StringComparison.Ordinal);
        Assert.Contains("openssl rand -base64 48", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("s3cr3t")]
    [InlineData("0123456789012345678901234567890")]
    public void SigningKey_ShorterThanThirtyTwoBytes_RefusesToStartWithoutShowingTheKey(string key)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Keys(key));

        Assert.StartsWith($"TRANSACTIONS_SIGNING_KEY is too short: {key.Length} bytes, at least 32 are required.", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PreviousSigningKeys_AreCommaSeparatedAndEachMustBeLongEnough()
    {
        var settings = Keys(Current, $" {Previous} , {Current} ,, ");
        Assert.Equal([Previous, Current], settings.PreviousSigningKeys);
        Assert.Empty(Keys(Current).PreviousSigningKeys);

        var error = Assert.Throws<InvalidOperationException>(() => Keys(Current, $"{Previous},too-short-a-key"));
        Assert.StartsWith("TRANSACTIONS_SIGNING_KEYS_PREVIOUS: key 2 of 2 is too short", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("too-short-a-key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateKeyring_DerivesEachParticipantsKeyFromTheCurrentOne_AndAcceptsThoseOfThePreviousOnes()
    {
        var keyring = Keys(Current, Previous).CreateKeyring(new ConfigurationBuilder().Build());
        var bank = keyring.For("bank");

        Assert.Equal(MessageCodec.KeyIdOf(Encoding.UTF8.GetBytes(ParticipantKeyring.DeriveKey(Current, "bank"))), bank.KeyId);
        Assert.Contains(MessageCodec.KeyIdOf(Encoding.UTF8.GetBytes(ParticipantKeyring.DeriveKey(Previous, "bank"))), bank.AcceptedKeyIds);
        Assert.Equal(2, bank.AcceptedKeyIds.Count);
        Assert.DoesNotContain(MessageCodec.KeyIdOf(Encoding.UTF8.GetBytes(Current)), bank.AcceptedKeyIds);
        Assert.NotEqual(bank.KeyId, keyring.For("inventory").KeyId);
    }

    [Fact]
    public void CreateKeyring_TakesAParticipantsConfiguredKeyInsteadOfTheDerivedOne()
    {
        const string configured = "shipping-own-key-0123456789abcdef0123456789";
        var keyring = Keys(Current).CreateKeyring(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["PARTICIPANT_SHIPPING_SIGNING_KEY"] = configured,
            ["PARTICIPANT_SHIPPING_SIGNING_KEYS_PREVIOUS"] = Previous,
        }).Build());

        var shipping = keyring.For("shipping");
        Assert.Equal(MessageCodec.KeyIdOf(Encoding.UTF8.GetBytes(configured)), shipping.KeyId);
        Assert.Equal([shipping.KeyId, MessageCodec.KeyIdOf(Encoding.UTF8.GetBytes(Previous))], shipping.AcceptedKeyIds);
        Assert.Equal(MessageCodec.KeyIdOf(Encoding.UTF8.GetBytes(ParticipantKeyring.DeriveKey(Current, "bank"))), keyring.For("bank").KeyId);
    }

    private const string Current = "the-current-signing-key-0123456789abcdef";
    private const string Previous = "the-previous-signing-key-0123456789abcdef";

    private static TransactionsSettings Keys(string? key, string? previous = null) => TransactionsSettings.From(
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TRANSACTIONS_SIGNING_KEY"] = key,
            ["TRANSACTIONS_SIGNING_KEYS_PREVIOUS"] = previous,
        }).Build());

    private static TransactionsSettings From(string? retention) => TransactionsSettings.From(
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TRANSACTIONS_HISTORY_RETENTION"] = retention,
            ["TRANSACTIONS_SIGNING_KEY"] = Current,
        }).Build());
}
