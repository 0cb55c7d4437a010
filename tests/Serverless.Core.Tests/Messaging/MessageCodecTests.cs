using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Messaging;

public sealed class MessageCodecTests
{
    private const string Operation = "{\"type\":\"debit\",\"account\":\"alice\",\"amount\":30}";

    private static readonly MessageCodec Codec = TestKeys.Codec;

    public static TheoryData<MessageKind> Kinds => [.. Enum.GetValues<MessageKind>()];

    public static TheoryData<MessageKind, string> RequiredFields => new()
    {
        { MessageKind.Prepare, "branch" }, { MessageKind.Prepare, "participant" }, { MessageKind.Prepare, "operation" },
        { MessageKind.Commit, "branch" }, { MessageKind.Commit, "participant" }, { MessageKind.Commit, "operation" },
        { MessageKind.Rollback, "branch" }, { MessageKind.Rollback, "participant" }, { MessageKind.Rollback, "operation" },
        { MessageKind.Inquiry, "branch" }, { MessageKind.Inquiry, "participant" }, { MessageKind.Inquiry, "operation" },
        { MessageKind.Vote, "branch" }, { MessageKind.Vote, "vote" },
        { MessageKind.Ack, "branch" }, { MessageKind.Ack, "outcome" },
    };

    /// <summary>A one-phase prepare: the transaction's only branch, which decides by itself.</summary>
    public static ProtocolMessage OnePhasePrepare => Sample(MessageKind.Prepare) with { Branch = 0, OnePhase = true };

    /// <summary>The vote of a one-phase branch: its vote, the decision it recorded and the outcome it finished with.</summary>
    public static ProtocolMessage FinishedVote(Vote vote, Decision decision, BranchOutcome outcome) =>
        new(MessageKind.Vote, "order-1001") { Branch = 0, Vote = vote, Decision = decision, Outcome = outcome };

    /// <summary>A sample of every kind, and the one-phase forms of a prepare and a vote.</summary>
    public static ProtocolMessage[] AllSamples() =>
    [
        .. Enum.GetValues<MessageKind>().Select(Sample),
        OnePhasePrepare,
        FinishedVote(Vote.Yes, Decision.Commit, BranchOutcome.Committed),
        FinishedVote(Vote.No, Decision.Abort, BranchOutcome.RolledBack) with { Reason = "insufficient funds in 'alice'" },
    ];

    /// <summary>A typical message of each kind, with every field that kind carries.</summary>
    public static ProtocolMessage Sample(MessageKind kind) => kind switch
    {
        MessageKind.Prepare or MessageKind.Commit or MessageKind.Rollback or MessageKind.Inquiry =>
            new(kind, "order-1001") { Branch = 2, Participant = "bank", Operation = Operation },
        MessageKind.Vote => new(kind, "order-1001") { Branch = 1, Vote = Vote.No, Reason = "insufficient funds in 'alice'" },
        MessageKind.Ack => new(kind, "order-1001") { Branch = 63, Outcome = BranchOutcome.RolledBack },
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Decode_OfAnEncodedMessageOfEveryKind_GivesTheSameMessageBack(MessageKind kind)
    {
        var message = Sample(kind);

        var text = Codec.Encode(message);

        Assert.True(Codec.TryDecode(text, out var decoded, out var error), error);
        Assert.Null(error);
        Assert.Equal(message, decoded);
        Assert.Contains("\"sig\"", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Vote.Yes, null)]
    [InlineData(Vote.ReadOnly, null)]
    [InlineData(Vote.No, "quotes \" backslash \\ newline \n tab \t unicode é 漢字 😀 control \u0001")]
    public void Decode_OfEveryVoteAndAnyReason_GivesTheSameMessageBack(Vote vote, string? reason)
    {
        var message = new ProtocolMessage(MessageKind.Vote, "t") { Branch = 0, Vote = vote, Reason = reason };

        Assert.True(Codec.TryDecode(Codec.Encode(message), out var decoded, out _));
        Assert.Equal(message, decoded);
    }

    [Fact]
    public void Decode_OfEveryOutcome_GivesTheSameMessageBack()
    {
        foreach (var outcome in Enum.GetValues<BranchOutcome>())
        {
            var message = new ProtocolMessage(MessageKind.Ack, "t") { Branch = 5, Outcome = outcome };

            Assert.True(Codec.TryDecode(Codec.Encode(message), out var decoded, out _));
            Assert.Equal(message, decoded);
        }
    }

    [Fact]
    public void Decode_OfACommandBuiltFromABranch_CarriesItsParticipantAndOperation()
    {
        var branch = new BranchState(4, "inventory", "{\"type\":\"reserve\",\"sku\":\"apple\",\"quantity\":2}");
        var message = ProtocolMessage.Command(MessageKind.Prepare, "order-7", branch);

        Assert.True(Codec.TryDecode(Codec.Encode(message), out var decoded, out _));
        Assert.Equal(new ProtocolMessage(MessageKind.Prepare, "order-7") { Branch = 4, Participant = "inventory", Operation = branch.Operation }, decoded);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{")]
    [InlineData("{\"body\":")]
    [InlineData("[]")]
    [InlineData("\"body\"")]
    [InlineData("{}")]
    [InlineData("{\"body\":null}")]
    [InlineData("{\"body\":1}")]
    [InlineData("{\"body\":[]}")]
    [InlineData("{\"body\":{}}")]
    [InlineData("{\"body\":{\"v\":1,\"kind\":\"Vote\",\"tx\":\"t\",\"branch\":0,\"vote\":\"Yes\"}} trailing")]
    [InlineData("{\"body\":{\"v\":1,\"kind\":\"Vote\",\"tx\":\"t\",\"branch\":0,\"vote\":\"Yes\",}}")]
    [InlineData("{'body':{'v':1,'kind':'Vote','tx':'t','branch':0,'vote':'Yes'}}")]
    public void Decode_OfMalformedText_IsRejected(string? text)
    {
        AssertRejected(Codec, text);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Decode_OfTruncatedText_IsRejectedAtEveryLength(MessageKind kind)
    {
        var text = Codec.Encode(Sample(kind));

        for (var length = 0; length < text.Length; length++)
        {
            AssertRejected(Codec, text[..length]);
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("2")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("\"1\"")]
    [InlineData("null")]
    [InlineData("99999999999")]
    public void Decode_OfAnUnknownVersion_IsRejected(string version)
    {
        AssertRejected(Codec, With(MessageKind.Vote, "v", version), version == "2" ? "unsupported message version 2" : "version");
    }

    [Theory]
    [InlineData("\"Explode\"")]
    [InlineData("\"prepare\"")]
    [InlineData("\"PREPARE\"")]
    [InlineData("\"\"")]
    [InlineData("\"0\"")]
    [InlineData("\"7\"")]
    [InlineData("\"8\"")]
    [InlineData("\" Prepare\"")]
    [InlineData("\"Prepare \"")]
    [InlineData("\"Commit,Rollback\"")]
    [InlineData("\"Prepare, Commit\"")]
    [InlineData("\"Deadline\"")]
    [InlineData("\"Retry\"")]
    [InlineData("0")]
    [InlineData("null")]
    public void Decode_OfAnUnknownKind_IsRejected(string kind)
    {
        AssertRejected(Codec, With(MessageKind.Prepare, "kind", kind), "kind");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Decode_WithoutVersionKindOrTransaction_IsRejected(MessageKind kind)
    {
        AssertRejected(Codec, Without(kind, "v"), "version");
        AssertRejected(Codec, Without(kind, "kind"), "kind");
        AssertRejected(Codec, Without(kind, "tx"), "transaction id");
    }

    [Theory]
    [MemberData(nameof(RequiredFields))]
    public void Decode_WithoutAFieldItsKindRequires_IsRejected(MessageKind kind, string field)
    {
        AssertRejected(Codec, Without(kind, field), kind.ToString());
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"has space\"")]
    [InlineData("\"has/slash\"")]
    [InlineData("12")]
    public void Decode_WithAnInvalidTransactionId_IsRejected(string tx)
    {
        AssertRejected(Codec, With(MessageKind.Vote, "tx", tx), "transaction id");
    }

    [Fact]
    public void Decode_WithATransactionIdLongerThanSixtyFour_IsRejected()
    {
        AssertRejected(Codec, With(MessageKind.Vote, "tx", $"\"{new string('x', Identifiers.MaxTransactionIdLength + 1)}\""), "transaction id");
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("64")]
    [InlineData("1.5")]
    [InlineData("\"0\"")]
    [InlineData("null")]
    [InlineData("4294967296")]
    public void Decode_WithAnInvalidBranch_IsRejected(string branch)
    {
        AssertRejected(Codec, With(MessageKind.Ack, "branch", branch), "invalid branch");
    }

    [Theory]
    [InlineData(MessageKind.Prepare, "participant", "\"Bank\"")]
    [InlineData(MessageKind.Commit, "participant", "\"bank--eu\"")]
    [InlineData(MessageKind.Rollback, "participant", "7")]
    [InlineData(MessageKind.Vote, "vote", "\"Maybe\"")]
    [InlineData(MessageKind.Vote, "vote", "\"yes\"")]
    [InlineData(MessageKind.Vote, "vote", "\"1\"")]
    [InlineData(MessageKind.Vote, "vote", "\"Yes,No\"")]
    [InlineData(MessageKind.Vote, "vote", "0")]
    [InlineData(MessageKind.Ack, "outcome", "\"Done\"")]
    [InlineData(MessageKind.Ack, "outcome", "\"Committed,RolledBack\"")]
    public void Decode_WithAnInvalidValueForAFieldItsKindRequires_IsRejected(MessageKind kind, string field, string value)
    {
        AssertRejected(Codec, With(kind, field, value), kind.ToString());
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("\"{\\\"type\\\":\\\"debit\\\"}\"")]
    [InlineData("42")]
    [InlineData("true")]
    [InlineData("null")]
    public void Decode_WithAnOperationThatIsNotAnObject_IsRejected(string operation)
    {
        AssertRejected(Codec, With(MessageKind.Prepare, "operation", operation), "operation is not a JSON object");
    }

    [Fact]
    public void Decode_WithAnOperationNestedTooDeeply_IsRejectedWithoutThrowing()
    {
        var deep = string.Concat(Enumerable.Repeat("{\"a\":", 100)) + "1" + new string('}', 100);

        var text = Codec.Encode(Sample(MessageKind.Prepare)).Replace(Operation, deep, StringComparison.Ordinal);

        AssertRejected(Codec, text, "malformed JSON");
    }

    [Fact]
    public void Decode_OfTextUpToTheSizeLimit_IsAcceptedAndOneCharacterMoreIsRejected()
    {
        var empty = Codec.Encode(new ProtocolMessage(MessageKind.Vote, "t") { Branch = 0, Vote = Vote.No, Reason = "" });
        var fits = new ProtocolMessage(MessageKind.Vote, "t") { Branch = 0, Vote = Vote.No, Reason = new string('r', MessageCodec.MaxMessageLength - empty.Length) };
        var text = Codec.Encode(fits);
        Assert.Equal(MessageCodec.MaxMessageLength, text.Length);

        Assert.True(Codec.TryDecode(text, out var decoded, out _));
        Assert.Equal(fits, decoded);
        AssertRejected(Codec, Codec.Encode(fits with { Reason = fits.Reason + "r" }), "oversized");
        AssertRejected(Codec, text + " ", "oversized");
    }

    [Property(MaxTest = 1000)]
    public Property Decode_OfARandomlyEditedMessage_NeverThrowsAndWhatItAcceptsEncodesAgain() =>
        Prop.ForAll(
            Gen.Elements(AllSamples()).ToArbitrary(),
            Gen.Choose(0, 1 << 16).ArrayOf().ToArbitrary(),
            Gen.Elements('{', '}', '[', ']', '"', ',', ':', '\\', '0', '9', '-', 'e', '.', ' ', 'x', '\u00e9').ArrayOf().ToArbitrary(),
            (sample, positions, inserts) =>
            {
                var text = Codec.Encode(sample);
                for (var i = 0; i < Math.Min(positions.Length, 6) && text.Length > 0; i++)
                {
                    var at = positions[i] % text.Length;
                    text = i < inserts.Length ? text.Insert(at, inserts[i].ToString()) : text.Remove(at, 1);
                }

                if (Codec.TryDecode(text, out var decoded, out _))
                {
                    Assert.True(Codec.TryDecode(Codec.Encode(decoded!), out var again, out var error), error);
                    Assert.Equal(decoded, again);
                }
            });

    [Fact]
    public void Encode_WithNull_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => Codec.Encode(null!));
    }

    private static void AssertRejected(MessageCodec codec, string? text, string? errorFragment = null)
    {
        var ok = codec.TryDecode(text, out var message, out var error);

        Assert.False(ok, $"accepted: {text}");
        Assert.Null(message);
        Assert.False(string.IsNullOrEmpty(error));
        if (errorFragment is not null)
        {
            Assert.Contains(errorFragment, error, StringComparison.Ordinal);
        }
    }

    /// <summary>The encoding of <see cref="Sample"/> with one body field replaced by raw JSON, signed again with <see cref="TestKeys.Key"/>.</summary>
    internal static string With(MessageKind kind, string field, string rawJson)
    {
        var root = JsonNode.Parse(Codec.Encode(Sample(kind)))!;
        root["body"]![field] = JsonNode.Parse(rawJson);
        return TestKeys.Resign(root);
    }

    internal static string Without(MessageKind kind, string field)
    {
        var root = JsonNode.Parse(Codec.Encode(Sample(kind)))!;
        Assert.True(root["body"]!.AsObject().Remove(field), $"{kind} has no field {field}");
        return TestKeys.Resign(root);
    }
}
