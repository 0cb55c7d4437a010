using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;

namespace Serverless.Functions.Api;

/// <summary>Validates a start request body field by field, so that every problem is reported at once and nothing is written for bad input.</summary>
public static class StartRequestParser
{
    /// <summary>Largest accepted request body: 256 KiB.</summary>
    public const int MaxBodyBytes = 256 * 1024;

    /// <summary>Largest operation, as compact JSON: 16 KiB (it travels in queue messages of at most 64 KiB).</summary>
    public const int MaxOperationChars = 16 * 1024;

    /// <param name="root">The request body.</param>
    /// <param name="knownParticipants">Every participant a branch may name, with the branch kinds it takes.</param>
    /// <param name="defaultTimeoutSeconds">The vote deadline when the request gives none.</param>
    /// <param name="now">When the request was accepted.</param>
    public static (TransactionRequest? Request, Dictionary<string, string[]> Errors) Parse(
        JsonElement root, IReadOnlyDictionary<string, IReadOnlyList<BranchKind>> knownParticipants, int defaultTimeoutSeconds, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(knownParticipants);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (root.ValueKind != JsonValueKind.Object)
        {
            errors["$"] = ["The body must be a JSON object."];
            return (null, errors);
        }

        string id = Guid.NewGuid().ToString("N");
        if (root.TryGetProperty("transactionId", out var idElement) && idElement.ValueKind != JsonValueKind.Null)
        {
            if (idElement.ValueKind != JsonValueKind.String || !Identifiers.IsValidTransactionId(idElement.GetString()))
            {
                errors["transactionId"] = ["Must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'."];
            }
            else
            {
                id = idElement.GetString()!;
            }
        }

        var timeout = defaultTimeoutSeconds;
        if (root.TryGetProperty("timeoutSeconds", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            if (t.ValueKind != JsonValueKind.Number || !t.TryGetInt32(out timeout) || timeout is < 1 or > Identifiers.MaxTimeoutSeconds)
            {
                errors["timeoutSeconds"] = [$"Must be a whole number from 1 to {Identifiers.MaxTimeoutSeconds}."];
            }
        }

        var branches = new List<BranchRequest>();
        if (!root.TryGetProperty("participants", out var participants) || participants.ValueKind != JsonValueKind.Array)
        {
            errors["participants"] = ["Required: an array of 1 to 64 branches."];
        }
        else if (participants.GetArrayLength() is < 1 or > Identifiers.MaxBranches)
        {
            errors["participants"] = [$"Must hold 1 to {Identifiers.MaxBranches} branches; it holds {participants.GetArrayLength()}."];
        }
        else
        {
            var i = 0;
            foreach (var branch in participants.EnumerateArray())
            {
                ParseBranch(branch, i++, knownParticipants, errors, branches);
            }
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var nonce = branches.Any(b => b.Kind == BranchKind.Saga) ? SagaKeys.NewNonce() : null;
        return (new TransactionRequest(id, timeout, branches, Hash(timeout, branches), now, nonce), errors);
    }

    private static void ParseBranch(
        JsonElement branch, int i, IReadOnlyDictionary<string, IReadOnlyList<BranchKind>> known, Dictionary<string, string[]> errors, List<BranchRequest> branches)
    {
        var at = $"participants[{i}]";
        if (branch.ValueKind != JsonValueKind.Object)
        {
            errors[at] = ["Must be an object with 'participant' and 'operation'."];
            return;
        }

        string? name = null;
        if (!branch.TryGetProperty("participant", out var p) || p.ValueKind != JsonValueKind.String)
        {
            errors[$"{at}.participant"] = ["Required: the name of a configured participant."];
        }
        else if (!known.ContainsKey(p.GetString()!))
        {
            errors[$"{at}.participant"] = [$"Unknown participant; known: {string.Join(", ", known.Keys)}."];
        }
        else
        {
            name = p.GetString();
        }

        string? operation = null;
        if (!branch.TryGetProperty("operation", out var op) || op.ValueKind != JsonValueKind.Object)
        {
            errors[$"{at}.operation"] = ["Required: a JSON object handed to the participant."];
        }
        else
        {
            operation = JsonSerializer.Serialize(op);
            if (operation.Length > MaxOperationChars)
            {
                errors[$"{at}.operation"] = [$"Too large: at most {MaxOperationChars} characters as compact JSON."];
                operation = null;
            }
        }

        var kind = BranchKind.TwoPhase;
        if (branch.TryGetProperty("kind", out var k) && k.ValueKind != JsonValueKind.Null)
        {
            if (k.ValueKind != JsonValueKind.String || BranchKindExtensions.FromApiName(k.GetString()) is not { } named)
            {
                errors[$"{at}.kind"] = ["Must be \"2pc\" (the default), \"tcc\" or \"saga\"."];
                return;
            }

            kind = named;
        }

        if (name is not null && !known[name].Contains(kind))
        {
            errors[$"{at}.kind"] = [$"Participant '{name}' takes {string.Join(" or ", known[name].Select(x => x.ToApiName()))} branches, not {kind.ToApiName()}."];
            return;
        }

        if (name is not null && operation is not null)
        {
            branches.Add(new BranchRequest(name, operation, kind));
        }
    }

    /// <summary>
    /// The identity of a request for idempotency: same timeout and the same branches in the same order, of the same kinds (a
    /// 2PC branch adds nothing, so the identity of a request without kinds is what it always was).
    /// </summary>
    private static string Hash(int timeout, List<BranchRequest> branches)
    {
        var text = new StringBuilder().Append(timeout);
        foreach (var (participant, operation, kind) in branches)
        {
            text.Append('\n').Append(participant).Append('\n').Append(operation);
            if (kind != BranchKind.TwoPhase)
            {
                text.Append('\n').Append(kind.ToApiName());
            }
        }

        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
