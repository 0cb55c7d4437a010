using System.Text.Json.Nodes;
using Serverless.Core.Messaging;

namespace Serverless.Core.Tests.Messaging;

/// <summary>
/// The fields that let the participant whose Yes completes the votes decide: <c>branches</c> and <c>deadline</c> on a
/// prepare. Signed like every other field, and refused when they make no sense, since a participant acts on them.
/// </summary>
public sealed class LastVoteFieldsTests
{
    private static readonly DateTimeOffset Deadline = new(2026, 11, 26, 10, 0, 30, 125, TimeSpan.Zero);

    private static ProtocolMessage Prepare => MessageCodecTests.Sample(MessageKind.Prepare) with { Branch = 2, Branches = 3, Deadline = Deadline };

    [Fact]
    public void Decode_OfAPrepareWithBranchesAndDeadline_GivesThemBack_ToTheMillisecond()
    {
        var text = TestKeys.Codec.Encode(Prepare);

        Assert.Contains("\"branches\":3", text, StringComparison.Ordinal);
        Assert.True(TestKeys.Codec.TryDecode(text, out var decoded, out var error), error);
        Assert.Equal(Prepare, decoded);
        Assert.Equal(Deadline, decoded!.Deadline);
    }

    [Fact]
    public void Encode_OfAPrepareWithoutThem_WritesNeither()
    {
        var text = TestKeys.Codec.Encode(MessageCodecTests.Sample(MessageKind.Prepare));

        Assert.DoesNotContain("branches", text, StringComparison.Ordinal);
        Assert.DoesNotContain("deadline", text, StringComparison.Ordinal);
        Assert.True(TestKeys.Codec.TryDecode(text, out var decoded, out _));
        Assert.Null(decoded!.Branches);
        Assert.Null(decoded.Deadline);
    }

    [Theory]
    [InlineData("branches", "4")]
    [InlineData("branches", null)]
    [InlineData("deadline", "\"2026-11-26T11:00:30Z\"")]
    [InlineData("deadline", null)]
    public void Decode_OfASignedPrepareWhoseFieldWasChangedAfterSigning_IsRejectedAsForged(string field, string? value)
    {
        var root = JsonNode.Parse(TestKeys.Codec.Encode(Prepare))!;
        var body = root["body"]!.AsObject();
        if (value is null)
        {
            body.Remove(field);
        }
        else
        {
            body[field] = JsonNode.Parse(value);
        }

        Assert.False(TestKeys.Codec.TryDecode(root.ToJsonString(), out _, out var error));
        Assert.Equal("invalid signature", error);
    }

    [Theory]
    [InlineData("""{"branches":1,"deadline":"2026-11-26T10:00:30Z"}""", "invalid branches")]
    [InlineData("""{"branches":65,"deadline":"2026-11-26T10:00:30Z"}""", "invalid branches")]
    [InlineData("""{"branches":"3","deadline":"2026-11-26T10:00:30Z"}""", "invalid branches")]
    [InlineData("""{"branches":3,"deadline":"tomorrow"}""", "invalid deadline")]
    [InlineData("""{"branches":3,"deadline":30}""", "invalid deadline")]
    [InlineData("""{"deadline":"2026-11-26T10:00:30Z"}""", "invalid deadline")]
    [InlineData("""{"branches":3}""", "a Prepare with branches needs its deadline and a branch below them")]
    [InlineData("""{"branches":2,"deadline":"2026-11-26T10:00:30Z"}""", "a Prepare with branches needs its deadline and a branch below them")]
    public void Decode_OfAPrepareWithFieldsThatMakeNoSense_IsRejectedEvenWhenSigned(string fields, string expected)
    {
        var body = JsonNode.Parse(TestKeys.Codec.Encode(MessageCodecTests.Sample(MessageKind.Prepare)))!["body"]!.AsObject();
        foreach (var (name, value) in JsonNode.Parse(fields)!.AsObject())
        {
            body[name] = value!.DeepClone();
        }

        Assert.False(TestKeys.Codec.TryDecode(TestKeys.Sign(body.ToJsonString()), out _, out var error));
        Assert.Equal(expected, error);
    }

    [Theory]
    [InlineData(MessageKind.Commit)]
    [InlineData(MessageKind.Vote)]
    public void Decode_OfAnotherKindWithBranches_IsRejected(MessageKind kind)
    {
        var body = JsonNode.Parse(TestKeys.Codec.Encode(MessageCodecTests.Sample(kind)))!["body"]!.AsObject();
        body["branches"] = 3;

        Assert.False(TestKeys.Codec.TryDecode(TestKeys.Sign(body.ToJsonString()), out _, out var error));
        Assert.Equal("invalid branches", error);
    }
}
