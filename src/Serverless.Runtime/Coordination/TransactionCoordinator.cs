using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Runtime.Faults;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Storage;

namespace Serverless.Runtime.Coordination;

/// <summary>A validated request to start a transaction.</summary>
public sealed record NewTransaction(string Id, TimeSpan Timeout, IReadOnlyList<(string Participant, string Operation)> Branches, string RequestHash);

/// <summary>What a start request led to.</summary>
public enum StartOutcome
{
    Started,

    /// <summary>The same id and the same request were seen before: this is that transaction.</summary>
    Existing,

    /// <summary>The id is taken by a different request.</summary>
    IdConflict,
}

/// <summary>What an abort request led to.</summary>
public enum AbortOutcome
{
    Aborting,
    NotFound,
    AlreadyCommitted,
}

/// <summary>
/// The durable coordinator: applies events to the checkpointed state through the pure
/// <see cref="Coordinator"/>, writes the result with an ETag-guarded write, then sends the commands.
/// </summary>
/// <remarks>
/// The caller deletes the inbound message only after <see cref="HandleAsync"/> returns, so a crash at
/// any point leads to redelivery; the pure core re-issues the commands of an event it already applied.
/// </remarks>
public sealed class TransactionCoordinator(
    TransactionStore store,
    IMessageSender sender,
    MessageCodec codec,
    StorageNames names,
    CoordinatorOptions options,
    TimeProvider time,
    CompletionSignals signals,
    ILogger<TransactionCoordinator> logger)
{
    private const int MaxConflictRetries = 50;

    public TransactionStore Store => store;

    /// <summary>Starts <paramref name="request"/>, or finds the transaction a previous identical request started.</summary>
    public async Task<(StartOutcome Outcome, TransactionState? State)> StartAsync(NewTransaction request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var state = TransactionState.Create(request.Id, request.Branches, time.GetUtcNow(), request.Timeout);

        // The deadline timer goes out before the record exists, so no record can exist without its deadline (I7).
        await SendAsync(names.CoordinatorQueue, new ProtocolMessage(MessageKind.Deadline, request.Id), request.Timeout, cancellationToken);
        if (await store.CreateAsync(state, request.RequestHash, cancellationToken) == WriteResult.Written)
        {
            logger.TransactionStarted(state.Id, state.Branches.Length, state.Deadline);
            CrashPoints.Hit(CrashPoint.AfterTransactionRecorded);
            await ExecuteAsync(state, Coordinator.Start(state), cancellationToken);
            return (StartOutcome.Started, state);
        }

        var existing = await store.LoadAsync(request.Id, cancellationToken);
        if (existing is null || existing.RequestHash != request.RequestHash)
        {
            return (StartOutcome.IdConflict, existing?.State);
        }

        // A repeated start may follow a crash between the record and the prepares: resend what is missing.
        logger.StartRepeated(request.Id);
        await ExecuteAsync(existing.State, Coordinator.Resume(existing.State, options), cancellationToken);
        return (StartOutcome.Existing, existing.State);
    }

    /// <summary>Handles one message from the coordinator's inbox. Returns when its effects are durable.</summary>
    public async Task HandleAsync(ProtocolMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        CoordinatorEvent? evt = message.Kind switch
        {
            MessageKind.Vote => new VoteCast(message.Branch, message.Vote!.Value, message.Reason),
            MessageKind.Ack => new BranchAcknowledged(message.Branch, message.Outcome!.Value),
            MessageKind.Deadline => new VoteDeadlinePassed(),
            MessageKind.Retry => new Phase2RetryDue(message.Attempt),
            MessageKind.Inquiry => new DecisionInquiry(message.Branch),
            _ => null,
        };
        if (evt is null)
        {
            throw new InvalidMessageException($"a {message.Kind} message does not belong in the coordinator's inbox");
        }

        var result = await ApplyAsync(message.TransactionId, evt, cancellationToken);
        if (result is null)
        {
            if (message.Kind == MessageKind.Inquiry)
            {
                // Presumed abort (I4): no record means no Commit decision can exist.
                logger.PresumedAbort(message.TransactionId, message.Participant!, message.Branch);
                var rollback = new ProtocolMessage(MessageKind.Rollback, message.TransactionId)
                {
                    Branch = message.Branch,
                    Participant = message.Participant,
                    Operation = message.Operation,
                };
                await SendAsync(names.ParticipantQueue(message.Participant!), rollback, TimeSpan.Zero, cancellationToken);
            }
            else
            {
                logger.UnknownTransaction(message.TransactionId, message.Kind.ToString());
            }
        }
    }

    /// <summary>Decides Abort if the transaction is still preparing.</summary>
    public async Task<(AbortOutcome Outcome, TransactionState? State)> AbortAsync(string id, string? reason, CancellationToken cancellationToken = default)
    {
        var step = await ApplyAsync(id, new AbortRequested(reason), cancellationToken);
        return step switch
        {
            null => (AbortOutcome.NotFound, null),
            { Kind: StepKind.Rejected } => (AbortOutcome.AlreadyCommitted, step.State),
            _ => (AbortOutcome.Aborting, step.State),
        };
    }

    public async Task<TransactionState?> GetAsync(string id, CancellationToken cancellationToken = default) =>
        (await store.LoadAsync(id, cancellationToken))?.State;

    /// <summary>Load, apply, conditionally save, execute; reload and repeat on a write conflict. Null when unknown.</summary>
    private async Task<CoordinatorStep?> ApplyAsync(string id, CoordinatorEvent evt, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var stored = await store.LoadAsync(id, cancellationToken);
            if (stored is null)
            {
                return null;
            }

            var step = Coordinator.Apply(stored.State, evt, time.GetUtcNow(), options);
            if (step.Kind == StepKind.Rejected)
            {
                logger.EventRejected(id, evt.GetType().Name, step.Detail);
                return step;
            }

            if (step.Changed)
            {
                if (await store.SaveAsync(stored.State, step.State, stored.ETag, stored.RequestHash, cancellationToken) == WriteResult.Conflict)
                {
                    logger.CheckpointConflict(id, attempt);
                    if (attempt >= MaxConflictRetries)
                    {
                        throw new InvalidOperationException($"transaction {id}: gave up after {attempt} checkpoint conflicts");
                    }

                    await Task.Delay(Random.Shared.Next(1, 5 * Math.Min(attempt, 10)), cancellationToken);
                    continue;
                }

                LogTransition(stored.State, step.State);
                if (stored.State.Decision is null && step.State.Decision is not null)
                {
                    CrashPoints.Hit(CrashPoint.AfterDecisionRecorded);
                }
            }

            await ExecuteAsync(step.State, step.Commands, cancellationToken);
            if (step.Changed && step.State.Status.IsTerminal())
            {
                signals.Notify(id);
            }

            return step;
        }
    }

    private void LogTransition(TransactionState before, TransactionState after)
    {
        if (before.Decision is null && after.Decision is { } decision)
        {
            logger.TransactionDecided(after.Id, decision.ToString(), after.Reason);
        }

        if (!before.Status.IsTerminal() && after.Status.IsTerminal())
        {
            logger.TransactionCompleted(after.Id, after.Status.ToString());
        }
    }

    private Task ExecuteAsync(TransactionState state, ImmutableArray<CoordinatorCommand> commands, CancellationToken cancellationToken)
    {
        if (commands.IsEmpty)
        {
            return Task.CompletedTask;
        }

        if (CrashPoints.Enabled)
        {
            return ExecuteOneByOneAsync(state, commands, cancellationToken);
        }

        return Task.WhenAll(commands.Select(command => ExecuteAsync(state, command, cancellationToken)));
    }

    private Task ExecuteAsync(TransactionState state, CoordinatorCommand command, CancellationToken cancellationToken) => command switch
    {
        SendPrepare c => SendCommandAsync(MessageKind.Prepare, state, c.Branch, cancellationToken),
        SendCommit c => SendCommandAsync(MessageKind.Commit, state, c.Branch, cancellationToken),
        SendRollback c => SendCommandAsync(MessageKind.Rollback, state, c.Branch, cancellationToken),
        SchedulePhase2Retry r => SendAsync(names.CoordinatorQueue, new ProtocolMessage(MessageKind.Retry, state.Id) { Attempt = r.Attempt }, r.Delay, cancellationToken),
        ScheduleVoteDeadline d => SendAsync(names.CoordinatorQueue, new ProtocolMessage(MessageKind.Deadline, state.Id), d.Delay, cancellationToken),
        _ => throw new InvalidOperationException($"unknown command {command}"),
    };

    /// <summary>Fault injection only: the commands in order, so that a crash can land between two sends.</summary>
    private async Task ExecuteOneByOneAsync(TransactionState state, ImmutableArray<CoordinatorCommand> commands, CancellationToken cancellationToken)
    {
        for (var i = 0; i < commands.Length; i++)
        {
            await ExecuteAsync(state, commands[i], cancellationToken);
            var more = commands.Skip(i + 1);
            if (commands[i] is SendPrepare && more.Any(c => c is SendPrepare))
            {
                CrashPoints.Hit(CrashPoint.BetweenPrepareSends);
            }
            else if (commands[i] is SendCommit or SendRollback && more.Any(c => c is SendCommit or SendRollback))
            {
                CrashPoints.Hit(CrashPoint.BetweenPhase2Sends);
            }
        }
    }

    private Task SendCommandAsync(MessageKind kind, TransactionState state, int branch, CancellationToken cancellationToken)
    {
        var b = state.Branches[branch];
        return SendAsync(names.ParticipantQueue(b.Participant), ProtocolMessage.Command(kind, state.Id, b), TimeSpan.Zero, cancellationToken);
    }

    private Task SendAsync(string queue, ProtocolMessage message, TimeSpan delay, CancellationToken cancellationToken) =>
        sender.SendAsync(queue, codec.Encode(message), delay, cancellationToken);
}

/// <summary>A message that decoded but can never be acted on; it goes to the poison queue at once.</summary>
public sealed class InvalidMessageException(string message) : Exception(message);
