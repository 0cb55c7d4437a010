using System.Net;
using System.Security.Cryptography;
using System.Text;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Loyalty.Tests;

/// <summary>
/// Anything that cannot be verified as a command for loyalty is 401 with a problem document, and changes nothing: no
/// balance, no journal line, and no branch record (the same branch can still be tried for real afterwards).
/// </summary>
public sealed class AuthenticationTests(LoyaltyFixture fixture) : IClassFixture<LoyaltyFixture>
{
    private LoyaltyServer Server => fixture.Server;

    [Fact]
    public async Task Unsigned_Is401AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var body = Body(tx, customer);

        await AssertRejectedAsync($$"""{"body":{{body}}}""", tx, customer, "unsigned");
    }

    [Fact]
    public async Task SignedWithAnotherParticipantsKey_Is401AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var forged = Keys.CodecOf(Keys.Other).Encode(Wire.Command(MessageKind.Prepare, tx, 0, Wire.Award(customer, 10)));

        await AssertRejectedAsync(forged, tx, customer, "not accepted");
    }

    [Fact]
    public async Task SignedWithAnotherKeyButNamingLoyaltysKid_Is401AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var other = Keys.CodecOf(Keys.Other);
        var forged = other.Encode(Wire.Command(MessageKind.Prepare, tx, 0, Wire.Award(customer, 10)))
            .Replace(other.KeyId, Keys.Coordinator.KeyId, StringComparison.Ordinal);

        await AssertRejectedAsync(forged, tx, customer, "invalid signature");
    }

    [Fact]
    public async Task AlteredBody_Is401AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var signed = Keys.Coordinator.Encode(Wire.Command(MessageKind.Prepare, tx, 0, Wire.Award(customer, 10)));
        var altered = signed.Replace("\"points\":10", "\"points\":99", StringComparison.Ordinal);
        Assert.NotEqual(signed, altered);

        await AssertRejectedAsync(altered, tx, customer, "invalid signature");
    }

    [Fact]
    public async Task SameBodyWithOtherSpacing_Is401_BecauseTheSignatureCoversTheExactText()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var signed = Keys.Coordinator.Encode(Wire.Command(MessageKind.Prepare, tx, 0, Wire.Award(customer, 10)));
        var respaced = signed.Replace("\"kind\":", "\"kind\": ", StringComparison.Ordinal);

        await AssertRejectedAsync(respaced, tx, customer, "invalid signature");
    }

    [Fact]
    public async Task UnknownKid_Is401AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var signed = Keys.Coordinator.Encode(Wire.Command(MessageKind.Prepare, tx, 0, Wire.Award(customer, 10)));
        var unknown = signed.Replace(Keys.Coordinator.KeyId, "0123456789abcdef", StringComparison.Ordinal);

        await AssertRejectedAsync(unknown, tx, customer, "kid 0123456789abcdef");
    }

    [Fact]
    public async Task AddressedToAnotherParticipant_Is401AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var forBank = Keys.Coordinator.Encode(Wire.Command(MessageKind.Prepare, tx, 0, Wire.Award(customer, 10), participant: "bank"));

        await AssertRejectedAsync(forBank, tx, customer, "\"bank\"");
    }

    [Fact]
    public async Task NotJson_Is401AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());

        await AssertRejectedAsync("award 10 points to " + customer, tx, customer, "malformed JSON");
    }

    [Fact]
    public async Task EmptyBody_Is401()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());

        await AssertRejectedAsync("", tx, customer, "empty");
    }

    [Fact]
    public async Task TruncatedMessage_Is401AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var signed = Keys.Coordinator.Encode(Wire.Command(MessageKind.Prepare, tx, 0, Wire.Award(customer, 10)));

        await AssertRejectedAsync(signed[..^1], tx, customer, "malformed JSON");
    }

    [Fact]
    public async Task InvalidUtf8_Is401()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        using var content = new ByteArrayContent([(byte)'{', 0xC3, 0x28, (byte)'}']);

        var answer = await Server.PostAsync(content);

        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Contains("UTF-8", answer.Problem().GetProperty("detail").GetString(), StringComparison.Ordinal);
        await AssertUntouchedAsync(tx, customer);
    }

    [Fact]
    public async Task OversizedMessage_Is401()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var padding = new string('x', 70 * 1024);
        var operation = $$"""{"type":"award","customer":"{{customer}}","points":10,"note":"{{padding}}"}""";
        var huge = Keys.Coordinator.Encode(Wire.Command(MessageKind.Prepare, tx, 0, operation));

        await AssertRejectedAsync(huge, tx, customer, "oversized");
    }

    [Fact]
    public async Task TwoBodies_Is401AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var signed = Keys.Coordinator.Encode(Wire.Command(MessageKind.Prepare, tx, 0, Wire.Award(customer, 10)));
        // A reader that takes the last "body" would act on a text nobody signed.
        var twoBodies = signed.Replace(",\"kid\":", $",\"body\":{Body(tx, customer, points: 99)},\"kid\":", StringComparison.Ordinal);

        await AssertRejectedAsync(twoBodies, tx, customer, "duplicate property");
    }

    [Fact]
    public async Task SignedBodyNamingTheParticipantTwice_Is401AndChangesNothing()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var body = $$"""{"v":1,"kind":"Prepare","tx":"{{tx}}","branch":0,"participant":"bank","participant":"loyalty","operation":{{Wire.Award(customer, 10)}}}""";

        await AssertRejectedAsync(SignRaw(body, Keys.Loyalty), tx, customer, "duplicate property");
    }

    [Theory]
    [InlineData("""{"v":2,"kind":"Prepare","tx":"TX","branch":0,"participant":"loyalty","operation":OP}""", "version")]
    [InlineData("""{"kind":"Prepare","tx":"TX","branch":0,"participant":"loyalty","operation":OP}""", "version")]
    [InlineData("""{"v":1,"kind":"Vote","tx":"TX","branch":0,"participant":"loyalty","vote":"Yes","operation":OP}""", "kind")]
    [InlineData("""{"v":1,"kind":"Inquiry","tx":"TX","branch":0,"participant":"loyalty","operation":OP}""", "kind")]
    [InlineData("""{"v":1,"kind":"Prepare","tx":"TX!","branch":0,"participant":"loyalty","operation":OP}""", "transaction id")]
    [InlineData("""{"v":1,"kind":"Prepare","tx":"TX","branch":64,"participant":"loyalty","operation":OP}""", "branch")]
    [InlineData("""{"v":1,"kind":"Prepare","tx":"TX","branch":-1,"participant":"loyalty","operation":OP}""", "branch")]
    [InlineData("""{"v":1,"kind":"Prepare","tx":"TX","participant":"loyalty","operation":OP}""", "branch")]
    [InlineData("""{"v":1,"kind":"Prepare","tx":"TX","branch":0,"operation":OP}""", "not \"loyalty\"")]
    [InlineData("""{"v":1,"kind":"Prepare","tx":"TX","branch":0,"participant":"loyalty","operation":[OP]}""", "operation")]
    [InlineData("""{"v":1,"kind":"Prepare","tx":"TX","branch":0,"participant":"loyalty"}""", "operation")]
    public async Task SignedButNotACommandForLoyalty_Is401AndChangesNothing(string template, string detailSays)
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var body = template.Replace("TX", tx, StringComparison.Ordinal).Replace("OP", Wire.Award(customer, 10), StringComparison.Ordinal);

        await AssertRejectedAsync(SignRaw(body, Keys.Loyalty), tx, customer, detailSays);
    }

    [Fact]
    public async Task CommandSignedOverItsExactText_IsAccepted_WhateverItsSpacingAndEscapes()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        // Not how the C# codec writes it: spaces, line breaks and escapes. The signature covers these exact bytes.
        var body = $$"""
            { "v" : 1, "kind" : "Prepare", "tx" : "{{tx}}", "branch" : 0, "participant" : "loyalty",
              "operation" : { "type" : "aw\u0061rd", "customer" : "caf\u00e9 {{customer}}", "points" : 5 } }
            """;

        var answer = await Server.PostAsync(SignRaw(body, Keys.Loyalty));

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(Vote.Yes, answer.Reply().Vote);
        Assert.Equal((0, 5), await Server.BalanceAsync($"café {customer}"));
    }

    [Fact]
    public async Task PreviousKey_IsAccepted_AndTheReplyIsSignedWithTheCurrentKey()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var old = Keys.CodecOf(Keys.Previous).Encode(Wire.Command(MessageKind.Prepare, tx, 0, Wire.Award(customer, 6)));

        var answer = await Server.PostAsync(old);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(Vote.Yes, answer.Reply().Vote); // Reply() verifies with the current key only
        Assert.Equal((0, 6), await Server.BalanceAsync(customer));
    }

    /// <summary>The signed wire text of a Prepare of <paramref name="points"/> for <paramref name="customer"/>, as the codec writes its body.</summary>
    private static string Body(string tx, string customer, long points = 10) =>
        $$"""{"v":1,"kind":"Prepare","tx":"{{tx}}","branch":0,"participant":"loyalty","operation":{{Wire.Award(customer, points)}}}""";

    /// <summary>Signs <paramref name="body"/> exactly as written, as docs/participants.md says: HMAC-SHA256 over its UTF-8 text.</summary>
    private static string SignRaw(string body, string key)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var sig = Convert.ToBase64String(HMACSHA256.HashData(keyBytes, Encoding.UTF8.GetBytes(body)));
        return $$"""{"body":{{body}},"kid":"{{MessageCodec.KeyIdOf(keyBytes)}}","sig":"{{sig}}"}""";
    }

    private async Task AssertRejectedAsync(string text, string tx, string customer, string detailSays)
    {
        var lines = Server.JournalLines();

        var answer = await Server.PostAsync(text);

        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Contains(detailSays, answer.Problem().GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(lines, Server.JournalLines());
        await AssertUntouchedAsync(tx, customer);
    }

    /// <summary>Nothing reserved, and no record of the branch: a real Try of it now votes Yes.</summary>
    private async Task AssertUntouchedAsync(string tx, string customer)
    {
        Assert.Equal((0, 0), await Server.BalanceAsync(customer));
        Assert.Equal(Vote.Yes, (await Server.TryAsync(tx, 0, Wire.Award(customer, 1))).Reply().Vote);
        Assert.Equal((0, 1), await Server.BalanceAsync(customer));
    }
}
