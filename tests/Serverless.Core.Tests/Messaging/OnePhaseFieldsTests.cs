using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Messaging;

/// <summary>
/// The two fields of one-phase commit: <c>onePhase</c> on a prepare (the branch decides by itself) and <c>decision</c> on the
/// vote that branch answers with (the decision it recorded and finished by), by the current key and during a rotation.
/// </summary>
public sealed class OnePhaseFieldsTests
{
    private static readonly byte[] Key = TestKeys.Key;
    private static readonly MessageCodec Signed = TestKeys.Codec;

    // Mid-rotation: signs with another key and still accepts the tests' key, so both sides of a rotation read these fields.
    private static readonly MessageCodec Rotated = new(TestKeys.OtherKey, [TestKeys.Key]);

    public static TheoryData<bool> Codecs => [false, true];

    public static TheoryData<Vote, Decision, BranchOutcome, bool> FinishedVotes
    {
        get
        {
            var data = new TheoryData<Vote, Decision, BranchOutcome, bool>();
            foreach (var vote in Enum.GetValues<Vote>())
            {
                foreach (var decision in Enum.GetValues<Decision>())
                {
                    foreach (var outcome in Enum.GetValues<BranchOutcome>())
                    {
                        data.Add(vote, decision, outcome, false);
                        data.Add(vote, decision, outcome, true);
                    }
                }
            }

            return data;
        }
    }

    public static TheoryData<MessageKind> KindsOtherThanPrepare =>
        [.. Enum.GetValues<MessageKind>().Where(k => k != MessageKind.Prepare)];

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Decode_OfAOnePhasePrepare_GivesItBackWithOnePhaseSet(bool withKey)
    {
        var codec = withKey ? Signed : Rotated;
        var message = MessageCodecTests.OnePhasePrepare;

        var text = codec.Encode(message);

        Assert.Contains("\"onePhase\":true", text, StringComparison.Ordinal);
        Assert.True(codec.TryDecode(text, out var decoded, out var error), error);
        Assert.True(decoded!.OnePhase);
        Assert.Equal(message, decoded);
    }

    [Fact]
    public void Encode_OfATwoPhasePrepare_WritesNoOnePhaseFieldAndDecodesAsTwoPhase()
    {
        var text = Rotated.Encode(MessageCodecTests.Sample(MessageKind.Prepare));

        Assert.DoesNotContain("onePhase", text, StringComparison.Ordinal);
        Assert.True(Rotated.TryDecode(text, out var decoded, out _));
        Assert.False(decoded!.OnePhase);
    }

    [Theory]
    [MemberData(nameof(KindsOtherThanPrepare))]
    public void Decode_OfOnePhaseOnAnotherKind_IgnoresIt(MessageKind kind)
    {
        var text = MessageCodecTests.With(kind, "onePhase", "true");

        Assert.True(Rotated.TryDecode(text, out var decoded, out var error), error);
        Assert.False(decoded!.OnePhase);
        Assert.Equal(MessageCodecTests.Sample(kind), decoded);
    }

    [Theory]
    [InlineData("false")]
    [InlineData("\"true\"")]
    [InlineData("\"True\"")]
    [InlineData("1")]
    [InlineData("null")]
    [InlineData("{}")]
    public void Decode_OfAOnePhaseFieldThatIsNotJsonTrue_ReadsATwoPhasePrepare(string value)
    {
        var text = MessageCodecTests.With(MessageKind.Prepare, "onePhase", value);

        Assert.True(Rotated.TryDecode(text, out var decoded, out var error), error);
        Assert.False(decoded!.OnePhase);
    }

    [Theory]
    [MemberData(nameof(FinishedVotes))]
    public void Decode_OfAFinishedVote_GivesItsVoteDecisionAndOutcomeBack(Vote vote, Decision decision, BranchOutcome outcome, bool withKey)
    {
        var codec = withKey ? Signed : Rotated;
        var message = MessageCodecTests.FinishedVote(vote, decision, outcome);

        var text = codec.Encode(message);

        Assert.Contains($"\"decision\":\"{decision}\"", text, StringComparison.Ordinal);
        Assert.True(codec.TryDecode(text, out var decoded, out var error), error);
        Assert.Equal(message, decoded);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Decode_OfAVoteWithADecisionAndNoOutcome_GivesItBack(bool withKey)
    {
        var codec = withKey ? Signed : Rotated;
        var message = new ProtocolMessage(MessageKind.Vote, "t") { Branch = 0, Vote = Vote.Yes, Decision = Decision.Commit };

        Assert.True(codec.TryDecode(codec.Encode(message), out var decoded, out var error), error);
        Assert.Equal(message, decoded);
    }

    [Fact]
    public void Encode_OfAVoteWithoutADecision_WritesNoDecisionField()
    {
        Assert.DoesNotContain("decision", Rotated.Encode(MessageCodecTests.Sample(MessageKind.Vote)), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Decode_OfAVoteWithAnOutcomeButNoDecision_IsRejected(bool withKey)
    {
        var codec = withKey ? Signed : Rotated;
        var message = new ProtocolMessage(MessageKind.Vote, "t") { Branch = 0, Vote = Vote.Yes, Outcome = BranchOutcome.Committed };

        // Correctly signed, and still refused: a finished branch must say which recorded decision it finished by.
        AssertRejected(codec, codec.Encode(message), "a Vote with an outcome needs the decision it was finished by");
    }

    [Theory]
    [InlineData("\"commit\"")]
    [InlineData("\"ABORT\"")]
    [InlineData("\"Commit,Abort\"")]
    [InlineData("\" Commit\"")]
    [InlineData("\"1\"")]
    [InlineData("\"\"")]
    [InlineData("\"Maybe\"")]
    [InlineData("0")]
    [InlineData("null")]
    [InlineData("true")]
    public void Decode_OfAVoteWithAnInvalidDecision_IsRejectedSignedOrNot(string decision)
    {
        foreach (var text in new[] { """{"v":1,"kind":"Vote","tx":"t","branch":0,"vote":"Yes","outcome":"Committed"}""", """{"v":1,"kind":"Vote","tx":"t","branch":0,"vote":"No"}""" })
        {
            var body = JsonNode.Parse(text)!;
            body["decision"] = JsonNode.Parse(decision);

            AssertRejected(Rotated, SignedText(body.ToJsonString()), "invalid decision");
            AssertRejected(Signed, SignedText(body.ToJsonString()), "invalid decision");
        }
    }

    [Fact]
    public void Decode_OfASignedPrepareMadeOnePhaseAfterSigning_IsRejectedAsForged()
    {
        var root = JsonNode.Parse(Signed.Encode(MessageCodecTests.Sample(MessageKind.Prepare)))!;
        root["body"]!["onePhase"] = true;

        AssertRejected(Signed, root.ToJsonString(), "invalid signature");
    }

    [Fact]
    public void Decode_OfASignedOnePhasePrepareMadeTwoPhaseAfterSigning_IsRejectedAsForged()
    {
        var root = JsonNode.Parse(Signed.Encode(MessageCodecTests.OnePhasePrepare))!;
        Assert.True(root["body"]!.AsObject().Remove("onePhase"));

        AssertRejected(Signed, root.ToJsonString(), "invalid signature");
    }

    [Theory]
    [InlineData("Abort")]
    [InlineData(null)]
    public void Decode_OfASignedFinishedVoteWhoseDecisionWasChanged_IsRejectedAsForged(string? decision)
    {
        var root = JsonNode.Parse(Signed.Encode(MessageCodecTests.FinishedVote(Vote.Yes, Decision.Commit, BranchOutcome.Committed)))!;
        if (decision is null)
        {
            root["body"]!.AsObject().Remove("decision");
        }
        else
        {
            root["body"]!["decision"] = decision;
        }

        AssertRejected(Signed, root.ToJsonString(), "invalid signature");
    }

    [Property(MaxTest = 300)]
    public Property Decode_OfAnySignedFinishedVote_GivesTheSameVoteBack() =>
        Prop.ForAll(FinishedVoteMessages().ToArbitrary(), message =>
        {
            Assert.True(Signed.TryDecode(Signed.Encode(message), out var decoded, out var error), error);
            Assert.Equal(message, decoded);
        });

    [Property(MaxTest = 300)]
    public Property Decode_OfAnySignedPrepare_KeepsItsOnePhaseFlag() =>
        Prop.ForAll(
            Gen.Choose(0, Identifiers.MaxBranches - 1).ToArbitrary(),
            ArbMap.Default.ArbFor<bool>(),
            (branch, onePhase) =>
            {
                var message = MessageCodecTests.Sample(MessageKind.Prepare) with { Branch = branch, OnePhase = onePhase };

                Assert.True(Signed.TryDecode(Signed.Encode(message), out var decoded, out var error), error);
                Assert.Equal(onePhase, decoded!.OnePhase);
                Assert.Equal(message, decoded);
            });

    private static Gen<ProtocolMessage> FinishedVoteMessages() =>
        from vote in Gen.Elements(Enum.GetValues<Vote>())
        from decision in Gen.Elements(Enum.GetValues<Decision>())
        from outcome in Gen.Elements(Enum.GetValues<BranchOutcome>())
        from branch in Gen.Choose(0, Identifiers.MaxBranches - 1)
        from reason in Reasons()
        select new ProtocolMessage(MessageKind.Vote, "tx-42") { Branch = branch, Vote = vote, Decision = decision, Outcome = outcome, Reason = reason };

    private static Gen<string?> Reasons() =>
        Gen.OneOf(
            Gen.Constant<string?>(null),
            Gen.Elements('a', ' ', '"', '\\', '\n', '\u0000', 'é', '漢', '\u2028').ArrayOf().Select(chars => (string?)new string(chars)));

    /// <summary>A message whose body is exactly <paramref name="body"/>, correctly signed with <see cref="Key"/>.</summary>
    private static string SignedText(string body) => TestKeys.Sign(body, Key);

    private static void AssertRejected(MessageCodec codec, string text, string errorFragment)
    {
        Assert.False(codec.TryDecode(text, out var message, out var error), $"accepted: {text}");
        Assert.Null(message);
        Assert.Contains(errorFragment, error, StringComparison.Ordinal);
    }
}
