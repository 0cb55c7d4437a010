using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Faults;
using Serverless.Functions.Messaging;
using Serverless.Functions.Storage;
using Serverless.Functions.Telemetry;

namespace Serverless.Functions.Participants;

/// <summary>
/// What every participant's queue function does with a command from its inbox: verify it, hand it to the participant's
/// resource manager, and raise the vote or acknowledgement on the transaction's orchestration.
/// </summary>
/// <remarks>
/// <para>I5: the function returns (and the Functions host deletes the message) only after the resource manager's step is
/// durable and the reply is raised; a crash in between redelivers the command, and the resource manager answers a
/// repeated command as the first time. A message that cannot be trusted (unsigned, forged, malformed), is addressed to
/// another participant, or contradicts the branch's record is moved to the poison queue and never acted on.</para>
/// <para>One-phase (a single-branch transaction): the participant records the decision its vote implies, first writer
/// wins, and finishes the branch by the recorded decision at once; the prepare is the only command it gets. A deadline
/// or abort recorded first still wins (the branch then rolls back).</para>
/// </remarks>
public sealed class ParticipantInbox(
    ParticipantRegistry participants,
    MessageCodec codec,
    DecisionStore decisions,
    ProtocolQueues queues,
    TimeProvider time,
    ILogger<ParticipantInbox> logger)
{
    /// <summary>Handles one message of <paramref name="participant"/>'s inbox.</summary>
    public async Task HandleAsync(string participant, string message, DurableTaskClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var queue = StorageNames.ParticipantQueue(participant);
        if (!codec.TryDecode(message, out var command, out var error))
        {
            await queues.PoisonAsync(queue, message, $"cannot be trusted: {error}", cancellationToken);
            return;
        }

        if (command!.Participant != participant || command.Kind is not (MessageKind.Prepare or MessageKind.Commit or MessageKind.Rollback))
        {
            await queues.PoisonAsync(queue, message, $"a {command.Kind} for participant '{command.Participant}' does not belong in the inbox of '{participant}'", cancellationToken);
            return;
        }

        using var span = TransactionTelemetry.StartParticipant(command, participant);
        ProtocolMessage reply;
        try
        {
            reply = await ExecuteAsync(participant, participants.Get(participant), command, cancellationToken);
        }
        catch (ProtocolViolationException ex)
        {
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, ex.Message);
            logger.ProtocolViolation(command.TransactionId, participant, command.Branch, command.Kind.ToString(), ex.Message);
            await queues.PoisonAsync(queue, message, ex.Message, cancellationToken);
            return;
        }

        span?.SetTag("transaction.reply", reply.Vote?.ToString() ?? reply.Outcome?.ToString());
        await DeliverAsync(reply, participant, client, cancellationToken);
    }

    /// <summary>Carries out <paramref name="command"/> with the resource manager and returns the reply for the coordinator.</summary>
    public async Task<ProtocolMessage> ExecuteAsync(string participant, IResourceManager resourceManager, ProtocolMessage command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resourceManager);
        ArgumentNullException.ThrowIfNull(command);
        var branch = new BranchKey(command.TransactionId, command.Branch);
        ProtocolMessage reply;
        switch (command.Kind)
        {
            case MessageKind.Prepare:
                var vote = await resourceManager.PrepareAsync(branch, command.Operation!, cancellationToken);
                if (vote.Vote == Vote.Yes)
                {
                    CrashPoints.Reached(CrashPoint.AfterPrepareRecorded, command.TransactionId);
                }

                reply = new ProtocolMessage(MessageKind.Vote, command.TransactionId) { Branch = command.Branch, Vote = vote.Vote, Reason = vote.Reason };
                if (command.OnePhase)
                {
                    reply = await FinishOnePhaseAsync(participant, resourceManager, command, reply, cancellationToken);
                }
                else if (command is { Branches: not null, Deadline: not null } && vote.Vote != Vote.No && command.Operation!.Length <= BoardVote.MaxOperationLength)
                {
                    reply = await DecideAtLastVoteAsync(participant, resourceManager, command, reply, cancellationToken);
                }

                break;
            case MessageKind.Commit or MessageKind.Rollback:
                var decision = command.Kind == MessageKind.Commit ? Decision.Commit : Decision.Abort;
                reply = await FinishAsync(resourceManager, branch, command.Operation!, decision, cancellationToken);
                if (decision == Decision.Commit)
                {
                    CrashPoints.Reached(CrashPoint.AfterCommitApplied, command.TransactionId);
                }

                break;
            default:
                throw new ArgumentException($"a {command.Kind} is not a participant's command", nameof(command));
        }

        logger.ParticipantHandled(command.TransactionId, participant, command.Branch, command.Kind.ToString(),
            reply.Vote?.ToString() ?? reply.Outcome?.ToString() ?? string.Empty);
        return reply;
    }

    /// <summary>Commits or rolls back a branch by <paramref name="decision"/> and returns its acknowledgement.</summary>
    public static async Task<ProtocolMessage> FinishAsync(IResourceManager resourceManager, BranchKey branch, string operation, Decision decision, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resourceManager);
        if (decision == Decision.Commit)
        {
            await resourceManager.CommitAsync(branch, operation, cancellationToken);
        }
        else
        {
            await resourceManager.RollbackAsync(branch, operation, cancellationToken);
        }

        return new ProtocolMessage(MessageKind.Ack, branch.TransactionId)
        {
            Branch = branch.Branch,
            Outcome = decision == Decision.Commit ? BranchOutcome.Committed : BranchOutcome.RolledBack,
        };
    }

    /// <summary>Raises a reply on its transaction's orchestration (the event is durable when this returns).</summary>
    public async Task DeliverAsync(ProtocolMessage reply, string participant, DurableTaskClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reply);
        ArgumentNullException.ThrowIfNull(client);
        try
        {
            if (reply.Kind == MessageKind.Vote)
            {
                await client.RaiseEventAsync(reply.TransactionId, TransactionEvents.Vote, VoteEvent.From(reply), cancellationToken);
                CrashPoints.Reached(CrashPoint.AfterVoteRaised, reply.TransactionId);
            }
            else
            {
                await client.RaiseEventAsync(reply.TransactionId, TransactionEvents.Ack, new AckEvent(reply.Branch, reply.Outcome!.Value), cancellationToken);
            }
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // No such orchestration (a hand-made command, or history purged): the branch is done; nobody waits for the reply.
            logger.ReplyNotDelivered(reply.TransactionId, participant, reply.Branch, ex.Message);
        }
    }

    /// <summary>
    /// Puts this branch's vote on the transaction's board (<see cref="DecisionStore.VoteAsync"/>). If that completes the
    /// votes, all Yes or ReadOnly, no decision is recorded yet and the deadline has not passed, this branch takes the
    /// coordinator's decision itself: it records Commit (first writer wins: the deadline's or an abort's Abort, or another
    /// branch's Commit, recorded first, leaves it a plain vote), sends the commit of every other Yes branch, and commits its
    /// own; its vote then carries the decision and its outcome, and the orchestration needs no round trip to decide.
    /// </summary>
    /// <remarks>
    /// I2: Commit is durable before any commit leaves. A crash after the record and before the vote is raised redelivers
    /// the prepare: the board then shows the decision, the vote goes out plain, and the orchestration's <c>RecordDecision</c>
    /// finds Commit recorded and sends phase 2 again (duplicates are harmless, I5).
    /// </remarks>
    private async Task<ProtocolMessage> DecideAtLastVoteAsync(
        string participant, IResourceManager resourceManager, ProtocolMessage command, ProtocolMessage vote, CancellationToken cancellationToken)
    {
        var branches = command.Branches!.Value;
        var board = await decisions.VoteAsync(command.TransactionId, new BoardVote(command.Branch, vote.Vote!.Value, participant, command.Operation!), cancellationToken);
        var votes = board.Votes.Where(v => v.Branch < branches).DistinctBy(v => v.Branch).OrderBy(v => v.Branch).ToList();
        var now = time.GetUtcNow();
        if (board.Decision is not null || votes.Count < branches || now >= command.Deadline!.Value)
        {
            return vote;
        }

        var (_, inserted) = await decisions.RecordFirstAsync(
            command.TransactionId, new DecisionRecord(Decision.Commit, null, now, [.. votes.Select(v => (Vote?)v.Vote)]), cancellationToken);
        if (!inserted)
        {
            return vote;
        }

        CrashPoints.Reached(CrashPoint.AfterDecisionRecorded, command.TransactionId);
        var others = votes.Where(v => v.Vote == Vote.Yes && v.Branch != command.Branch)
            .Select(v => new BranchCommand(MessageKind.Commit, v.Branch, v.Participant, v.Operation))
            .ToList();
        await queues.SendAsync(command.TransactionId, others, cancellationToken);
        logger.DecidedAtLastVote(command.TransactionId, participant, command.Branch, others.Count);
        BranchOutcome? outcome = null;
        if (vote.Vote == Vote.Yes)
        {
            // The branch's own commit, as a span of its own (under its prepare), as if its command had come.
            using var span = TransactionTelemetry.StartParticipant(command with { Kind = MessageKind.Commit, TraceParent = TransactionTelemetry.CurrentTraceParent }, participant);
            outcome = (await FinishAsync(resourceManager, new BranchKey(command.TransactionId, command.Branch), command.Operation!, Decision.Commit, cancellationToken)).Outcome;
            span?.SetTag("transaction.reply", outcome?.ToString());
            CrashPoints.Reached(CrashPoint.AfterCommitApplied, command.TransactionId);
        }

        return vote with { Decision = Decision.Commit, Outcome = outcome };
    }

    private async Task<ProtocolMessage> FinishOnePhaseAsync(
        string participant, IResourceManager resourceManager, ProtocolMessage command, ProtocolMessage vote, CancellationToken cancellationToken)
    {
        var proposed = vote.Vote == Vote.No
            ? new DecisionRecord(Decision.Abort, Serverless.Core.Protocol.Coordinator.NoVoteReason(participant, vote.Reason), time.GetUtcNow(), [vote.Vote])
            : new DecisionRecord(Decision.Commit, null, time.GetUtcNow(), [vote.Vote]);
        var recorded = await decisions.RecordAsync(command.TransactionId, proposed, cancellationToken);
        BranchOutcome? outcome = null;
        if (vote.Vote == Vote.Yes)
        {
            var ack = await FinishAsync(resourceManager, new BranchKey(command.TransactionId, command.Branch), command.Operation!, recorded.Decision, cancellationToken);
            outcome = ack.Outcome;
        }

        return vote with { Decision = recorded.Decision, Outcome = outcome };
    }
}
