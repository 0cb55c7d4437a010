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
    private readonly SemaphoreSlim[] _gates = [.. Enumerable.Range(0, 1024).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly CheckpointCache _cache = new();

    public TransactionStore Store => store;

    /// <summary>Starts <paramref name="request"/>, or finds the transaction a previous identical request started.</summary>
    public async Task<(StartOutcome Outcome, TransactionState? State)> StartAsync(NewTransaction request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var state = TransactionState.Create(request.Id, request.Branches, time.GetUtcNow(), request.Timeout);

        // The deadline timer goes out before the record exists, so no record can exist without its deadline (I7).
        await SendAsync(names.CoordinatorQueue, new ProtocolMessage(MessageKind.Deadline, request.Id), request.Timeout, cancellationToken);
        if (await store.CreateAsync(state, request.RequestHash, cancellationToken) is { } created)
        {
            _cache.Put(created);
            logger.TransactionStarted(state.Id, state.Branches.Length, state.Deadline);
            CrashPoints.Hit(CrashPoint.AfterTransactionRecorded);
            await ExecuteAsync(state, Coordinator.Start(state), null, cancellationToken);
            return (StartOutcome.Started, state);
        }

        var existing = await store.LoadAsync(request.Id, cancellationToken);
        if (existing is null || existing.RequestHash != request.RequestHash)
        {
            return (StartOutcome.IdConflict, existing?.State);
        }

        // A repeated start may follow a crash between the record and the prepares: resend what is missing.
        logger.StartRepeated(request.Id);
        await ExecuteAsync(existing.State, Coordinator.Resume(existing.State, options), null, cancellationToken);
        return (StartOutcome.Existing, existing.State);
    }

    /// <summary>Handles one message from the coordinator's inbox. Returns when its effects are durable.</summary>
    public async Task HandleAsync(ProtocolMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var evt = ToEvent(message) ?? throw new InvalidMessageException($"a {message.Kind} message does not belong in the coordinator's inbox");

        var result = await ApplyAsync(message.TransactionId, evt, null, cancellationToken);
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
        var step = await ApplyAsync(id, new AbortRequested(reason), null, cancellationToken);
        return step switch
        {
            null => (AbortOutcome.NotFound, null),
            { Kind: StepKind.Rejected } => (AbortOutcome.AlreadyCommitted, step.State),
            _ => (AbortOutcome.Aborting, step.State),
        };
    }

    /// <summary>
    /// Applies the vote or acknowledgement of a participant hosted in this process directly, instead of through
    /// the coordinator's inbox, and returns the transaction's state afterwards (null when unknown). The phase-2
    /// command that the event may call for on the reply's own branch is not sent: the caller, who holds that
    /// branch, carries it out at once (see <see cref="Participants.ParticipantDispatcher"/>). The caller's
    /// inbound command must stay undeleted until this returns, so that a crash leads to redelivery (I5).
    /// </summary>
    public async Task<TransactionState?> ApplyReplyAsync(ProtocolMessage reply, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reply);
        if (reply.Kind is not (MessageKind.Vote or MessageKind.Ack))
        {
            throw new ArgumentException($"a {reply.Kind} message is not a participant's reply", nameof(reply));
        }

        var step = await ApplyAsync(reply.TransactionId, ToEvent(reply)!, reply.Branch, cancellationToken);
        if (step is null)
        {
            logger.UnknownTransaction(reply.TransactionId, reply.Kind.ToString());
        }

        return step?.State;
    }

    public async Task<TransactionState?> GetAsync(string id, CancellationToken cancellationToken = default) =>
        (await store.LoadAsync(id, cancellationToken))?.State;

    private static CoordinatorEvent? ToEvent(ProtocolMessage message) => message.Kind switch
    {
        MessageKind.Vote => new VoteCast(message.Branch, message.Vote!.Value, message.Reason),
        MessageKind.Ack => new BranchAcknowledged(message.Branch, message.Outcome!.Value),
        MessageKind.Deadline => new VoteDeadlinePassed(),
        MessageKind.Retry => new Phase2RetryDue(message.Attempt),
        MessageKind.Inquiry => new DecisionInquiry(message.Branch),
        _ => null,
    };

    /// <summary>
    /// Apply, conditionally save, execute; on a write conflict forget the state, reload and repeat. Null when
    /// unknown. One event at a time per transaction in this process, so events handled here never conflict with
    /// each other, and the state and ETag of this process's last write serve the next event without a read.
    /// Phase-2 commands for <paramref name="localBranch"/> are left to the caller.
    /// </summary>
    private async Task<CoordinatorStep?> ApplyAsync(string id, CoordinatorEvent evt, int? localBranch, CancellationToken cancellationToken)
    {
        var gate = _gates[(StringComparer.Ordinal.GetHashCode(id) & int.MaxValue) % _gates.Length];
        await gate.WaitAsync(cancellationToken);
        try
        {
            var stored = _cache.Get(id);
            var remembered = stored is not null;
            for (var attempt = 1; ; attempt++)
            {
                stored ??= await store.LoadAsync(id, cancellationToken);
                if (stored is null)
                {
                    return null;
                }

                var step = Coordinator.Apply(stored.State, evt, time.GetUtcNow(), options);
                if (remembered && !step.Changed && !stored.State.Status.IsTerminal())
                {
                    // Only a fresh read may judge a duplicate or a rejection: another process may have moved on.
                    (stored, remembered) = (null, false);
                    continue;
                }

                if (step.Kind == StepKind.Rejected)
                {
                    logger.EventRejected(id, evt.GetType().Name, step.Detail);
                    _cache.Put(stored);
                    return step;
                }

                if (step.Changed)
                {
                    var saved = await SaveAsync(stored, step.State, cancellationToken);
                    if (saved is null)
                    {
                        logger.CheckpointConflict(id, attempt);
                        if (attempt >= MaxConflictRetries)
                        {
                            throw new InvalidOperationException($"transaction {id}: gave up after {attempt} checkpoint conflicts");
                        }

                        if (!remembered)
                        {
                            // Contention, not a stale memory: back off before trying again.
                            await Task.Delay(Random.Shared.Next(1, 5 * Math.Min(attempt, 10)), cancellationToken);
                        }

                        (stored, remembered) = (null, false);
                        continue;
                    }

                    LogTransition(stored.State, step.State);
                    var decided = stored.State.Decision is null && step.State.Decision is not null;
                    stored = saved;
                    if (decided)
                    {
                        CrashPoints.Hit(CrashPoint.AfterDecisionRecorded);
                    }
                }

                _cache.Put(stored);
                await ExecuteAsync(step.State, step.Commands, localBranch, cancellationToken);
                if (step.Changed && step.State.Status.IsTerminal())
                {
                    signals.Notify(step.State);
                }

                return step;
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>An ETag-guarded save; null on a conflict. After any other failure the write may or may not be durable, so the state is forgotten.</summary>
    private async Task<StoredTransaction?> SaveAsync(StoredTransaction stored, TransactionState next, CancellationToken cancellationToken)
    {
        try
        {
            var saved = await store.SaveAsync(stored.State, next, stored.ETag, stored.RequestHash, cancellationToken);
            if (saved is null)
            {
                _cache.Remove(next.Id);
            }

            return saved;
        }
        catch
        {
            _cache.Remove(next.Id);
            throw;
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

    private Task ExecuteAsync(TransactionState state, ImmutableArray<CoordinatorCommand> commands, int? localBranch, CancellationToken cancellationToken)
    {
        var all = commands;
        if (localBranch is { } own)
        {
            commands = commands.RemoveAll(c => c is SendCommit { Branch: var b } && b == own || c is SendRollback { Branch: var r } && r == own);
        }

        if (commands.IsEmpty)
        {
            return Task.CompletedTask;
        }

        if (CrashPoints.Enabled)
        {
            // The caller's own branch is phase 2 still to come, as if it were the last send.
            return ExecuteOneByOneAsync(state, commands, localPhase2: all.Length > commands.Length, cancellationToken);
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
    private async Task ExecuteOneByOneAsync(TransactionState state, ImmutableArray<CoordinatorCommand> commands, bool localPhase2, CancellationToken cancellationToken)
    {
        for (var i = 0; i < commands.Length; i++)
        {
            await ExecuteAsync(state, commands[i], cancellationToken);
            var more = commands.Skip(i + 1);
            if (commands[i] is SendPrepare && more.Any(c => c is SendPrepare))
            {
                CrashPoints.Hit(CrashPoint.BetweenPrepareSends);
            }
            else if (commands[i] is SendCommit or SendRollback && (localPhase2 || more.Any(c => c is SendCommit or SendRollback)))
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
