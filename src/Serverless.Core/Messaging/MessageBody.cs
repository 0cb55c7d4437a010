using System.Text.Json;
using Serverless.Core.Protocol;

namespace Serverless.Core.Messaging;

/// <summary>
/// The signed part of a protocol message, <c>body</c>: every field a receiver acts on, written and read field by field
/// (<see cref="MessageCodec"/> signs and verifies it).
/// </summary>
internal static class MessageBody
{
    public static void Write(Utf8JsonWriter writer, ProtocolMessage m)
    {
        writer.WriteStartObject();
        writer.WriteNumber("v", ProtocolMessage.CurrentVersion);
        writer.WriteString("kind", m.Kind.ToString());
        writer.WriteString("tx", m.TransactionId);
        if (m.Branch >= 0)
        {
            writer.WriteNumber("branch", m.Branch);
        }

        if (m.Participant is not null)
        {
            writer.WriteString("participant", m.Participant);
        }

        if (m.Operation is not null)
        {
            writer.WritePropertyName("operation");
            writer.WriteRawValue(m.Operation);
        }

        if (m.Vote is { } vote)
        {
            writer.WriteString("vote", vote.ToString());
        }

        if (m.Reason is not null)
        {
            writer.WriteString("reason", m.Reason);
        }

        if (m.Outcome is { } outcome)
        {
            writer.WriteString("outcome", outcome.ToString());
        }

        if (m.OnePhase)
        {
            writer.WriteBoolean("onePhase", true);
        }

        if (m.Decision is { } decision)
        {
            writer.WriteString("decision", decision.ToString());
        }

        if (m.TraceParent is not null)
        {
            writer.WriteString("traceParent", m.TraceParent);
        }

        writer.WriteEndObject();
    }

    public static bool TryRead(JsonElement body, out ProtocolMessage? message, out string? error)
    {
        message = null;
        if (!body.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var version))
        {
            error = "missing version";
            return false;
        }

        if (version != ProtocolMessage.CurrentVersion)
        {
            error = $"unsupported message version {version}";
            return false;
        }

        if (!TryGetEnum<MessageKind>(body, "kind", out var kind))
        {
            error = "missing or unknown kind";
            return false;
        }

        var tx = GetString(body, "tx");
        if (!Identifiers.IsValidTransactionId(tx))
        {
            error = "missing or invalid transaction id";
            return false;
        }

        var branch = -1;
        if (body.TryGetProperty("branch", out var b) && (b.ValueKind != JsonValueKind.Number || !b.TryGetInt32(out branch) || branch is < 0 or >= Identifiers.MaxBranches))
        {
            error = "invalid branch";
            return false;
        }

        var participant = GetString(body, "participant");
        string? operation = null;
        if (body.TryGetProperty("operation", out var op))
        {
            if (op.ValueKind != JsonValueKind.Object)
            {
                error = "operation is not a JSON object";
                return false;
            }

            operation = op.GetRawText();
        }

        Vote? vote = TryGetEnum<Vote>(body, "vote", out var parsedVote) ? parsedVote : null;
        BranchOutcome? outcome = TryGetEnum<BranchOutcome>(body, "outcome", out var parsedOutcome) ? parsedOutcome : null;
        Decision? decision = TryGetEnum<Decision>(body, "decision", out var parsedDecision) ? parsedDecision : null;
        if (decision is null && body.TryGetProperty("decision", out _))
        {
            error = "invalid decision";
            return false;
        }

        var onePhase = body.TryGetProperty("onePhase", out var p1) && p1.ValueKind == JsonValueKind.True;
        var traceParent = GetString(body, "traceParent");
        if (body.TryGetProperty("traceParent", out _) && !TraceParent.IsValid(traceParent))
        {
            error = "invalid traceParent";
            return false;
        }

        error = kind switch
        {
            MessageKind.Prepare or MessageKind.Commit or MessageKind.Rollback or MessageKind.Inquiry
                when branch < 0 || !Identifiers.IsValidParticipantName(participant) || operation is null =>
                $"{kind} needs branch, participant and operation",
            MessageKind.Vote when branch < 0 || vote is null => "Vote needs branch and vote",
            MessageKind.Ack when branch < 0 || outcome is null => "Ack needs branch and outcome",
            MessageKind.Vote when outcome is not null && decision is null => "a Vote with an outcome needs the decision it was finished by",
            _ => null,
        };
        if (error is not null)
        {
            return false;
        }

        message = new ProtocolMessage(kind, tx!)
        {
            Branch = branch,
            Participant = participant,
            Operation = operation,
            Vote = vote,
            Reason = GetString(body, "reason"),
            Outcome = outcome,
            OnePhase = onePhase && kind == MessageKind.Prepare,
            Decision = kind == MessageKind.Vote ? decision : null,
            TraceParent = traceParent,
        };
        return true;
    }

    private static string? GetString(JsonElement body, string name) =>
        body.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;

    private static bool TryGetEnum<T>(JsonElement body, string name, out T value)
        where T : struct, Enum
    {
        value = default;
        var text = GetString(body, name);
        // Enum.TryParse also accepts padding and comma-separated lists ("Yes,No" parses as No): only an exact name will do.
        return text is not null && !text.Any(char.IsDigit) && Enum.TryParse(text, ignoreCase: false, out value) && Enum.IsDefined(value)
            && string.Equals(value.ToString(), text, StringComparison.Ordinal);
    }
}
