using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Telemetry;
using Serverless.ParticipantKit;

namespace Serverless.Functions.Participants;

/// <summary>
/// The HTTP transport of a participant run as a service of its own, in any language (docs/participants.md): the signed command
/// is <c>POST</c>ed to the participant's URL, and the answer carries its signed reply. The same codec as the queues: only the
/// transport differs.
/// </summary>
/// <remarks>
/// <para>Status codes, as DTM's users know them: 200 done (the reply in the body); 409 a definite failure (a refused Try,
/// whose body is the signed No vote; otherwise a command that contradicts the branch's record); 425 not finished yet; 401
/// the participant could not verify the command (a key mismatch). Anything but a verified reply throws, so that the
/// command is sent again: the activity's retries, then the orchestration's deadline (a prepare) or phase-2 timers
/// (a commit or rollback, until acknowledged, I7). Every command is idempotent at the participant (I5).</para>
/// <para>A reply is taken only when it verifies with the key of the participant it was sent to and answers the command sent:
/// the same transaction, branch and participant, a vote for a prepare and the decided acknowledgement for a phase-2 command.</para>
/// </remarks>
public sealed class HttpParticipantClient(HttpClient http, ParticipantKeyring keys)
{
    /// <summary>The largest answer read: a protocol message's own bound.</summary>
    private const int MaxAnswerChars = MessageCodec.MaxMessageLength;

    /// <summary>Posts <paramref name="command"/> to <paramref name="url"/> and returns the participant's verified reply.</summary>
    /// <exception cref="HttpRequestException">The participant did not answer with a verified reply to this command; the message says what it answered.</exception>
    public async Task<ProtocolMessage> SendAsync(Uri url, ProtocolMessage command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(command);
        var participant = command.Participant!;
        var body = keys.For(participant).Encode(TransactionTelemetry.WithTraceParent(command));
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        using var response = await http.PostAsync(url, content, cancellationToken);
        var answer = await ReadAsync(response, cancellationToken);
        var status = (int)response.StatusCode;
        string? problem = null;
        if (status is 200 or 409 && Reply(answer, command, out problem) is { } reply && (status == 200 || reply.Vote == Vote.No))
        {
            return reply;
        }

        var what = response.StatusCode switch
        {
            HttpStatusCode.OK => $"a reply it could not take ({problem})",
            HttpStatusCode.Conflict => $"409: it refused the {command.Kind} as contradicting its record of the branch ({Detail(answer)})",
            (HttpStatusCode)425 => "425: not finished yet",
            HttpStatusCode.Unauthorized => $"401: it could not verify the command; is its key {ParticipantSettings.Name(participant, "SIGNING_KEY")} the one the coordinator holds? ({Detail(answer)})",
            _ => $"{status} {response.ReasonPhrase} ({Detail(answer)})",
        };
        throw new HttpRequestException($"participant '{participant}' at {url} answered the {command.Kind} of {command.TransactionId}/{command.Branch} with {what}; it is sent again", null, response.StatusCode);
    }

    /// <summary>The reply in <paramref name="answer"/> when it verifies and answers <paramref name="command"/>; else null and why.</summary>
    private ProtocolMessage? Reply(string answer, ProtocolMessage command, out string? problem)
    {
        if (!keys.TryDecodeFromParticipant(answer, out var reply, out problem))
        {
            return null;
        }

        var expected = command.Kind switch
        {
            MessageKind.Prepare => reply!.Kind == MessageKind.Vote,
            MessageKind.Commit => reply!.Kind == MessageKind.Ack && reply.Outcome == BranchOutcome.Committed,
            _ => reply!.Kind == MessageKind.Ack && reply.Outcome == BranchOutcome.RolledBack,
        };
        problem = reply.Participant != command.Participant ? $"signed by '{reply.Participant}', not '{command.Participant}'"
            : reply.TransactionId != command.TransactionId || reply.Branch != command.Branch ? $"it answers {reply.TransactionId}/{reply.Branch}"
            : !expected ? $"a {reply.Kind} {reply.Vote?.ToString() ?? reply.Outcome?.ToString()} does not answer a {command.Kind}"
            : null;
        // Sent no one-phase prepare, it holds no decision record: a decision in its vote is not one.
        return problem is null ? reply with { Decision = null, Outcome = reply.Kind == MessageKind.Vote ? null : reply.Outcome } : null;
    }

    private static async Task<string> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var buffer = new char[MaxAnswerChars + 1];
        var read = await reader.ReadBlockAsync(buffer.AsMemory(), cancellationToken);
        return new string(buffer, 0, read);
    }

    /// <summary>A problem document's <c>detail</c>, else the start of the answer, for a message.</summary>
    private static string Detail(string answer)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(answer);
            if (document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && document.RootElement.TryGetProperty("detail", out var detail) && detail.ValueKind == System.Text.Json.JsonValueKind.String)
            {
                return detail.GetString()!;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: show its start.
        }

        return answer.Length <= 200 ? answer : answer[..200] + "…";
    }
}
