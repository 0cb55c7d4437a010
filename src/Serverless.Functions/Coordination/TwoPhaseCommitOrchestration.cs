using System.Collections.Immutable;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using NonDeterministicOrchestrationException = DurableTask.Core.Exceptions.NonDeterministicOrchestrationException;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Messaging;
using Serverless.Functions.Telemetry;
using SessionAbortedException = DurableTask.Core.Exceptions.SessionAbortedException;

namespace Serverless.Functions.Coordination;

/// <summary>
/// One run of the <c>TwoPhaseCommit</c> orchestration, the transaction's only coordinator. It fans out one <c>Prepare</c>
/// activity per branch, gathers the votes (activity results, or events from participants whose queue function handled the
/// prepare) against the vote deadline (a durable timer), takes the pure <see cref="Coordinator"/>'s decision, and fans out
/// one <c>Commit</c> or <c>Rollback</c> activity per branch that may hold a reservation, retried on durable timers until each
/// acknowledged. Deterministic, as an orchestrator must be: no I/O, no clock but the context's.
/// </summary>
/// <remarks>
/// <para><b>I2, decide before phase 2, under replay.</b> Azure Storage sends an episode's activity messages before it
/// commits the episode's history, so after a crash a phase-2 activity may already have run while the episode replays with
/// its events in another order (a vote and the deadline racing) and proposes the other decision. So no decision is acted on
/// as proposed: every phase-2 activity first records the proposal first-writer-wins (<see cref="DecisionStore"/>) and sends
/// its command only if the proposal is what it finds recorded; the orchestration adopts the recorded decision
/// (<see cref="Coordinator.Adopt"/>) whatever it proposed, and publishes a decision only once it is recorded. A decision
/// whose phase 2 sends nothing is recorded by <c>RecordDecision</c>; a one-phase branch reports the one it recorded itself.</para>
/// <para><b>I7, liveness.</b> Phase 2 is sent again on durable timers with exponential backoff until every branch that may
/// hold a reservation acknowledged; recording the decision is retried until it succeeds.</para>
/// <para><b>A failure is never silent.</b> See <see cref="CompensateAsync"/>.</para>
/// </remarks>
public sealed partial class TwoPhaseCommitOrchestration
{
    /// <summary>Retries of an activity within one attempt: storage blips. Beyond that the phase-2 timers retry.</summary>
    private static readonly TaskOptions ActivityRetries = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 4, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(10)));

    private readonly TaskOrchestrationContext _context;
    private readonly TransactionRequest? _request;
    private readonly CoordinatorOptions _options;
    private readonly ILogger _logger;
    private TransactionState _state = null!;
    private Task<VoteEvent> _vote = null!;
    private Task<AckEvent> _ack = null!;
    private Task<AbortEvent> _abort = null!;

    /// <summary>Branch activities scheduled and not yet taken into account, in the order they were scheduled.</summary>
    private readonly List<BranchActivity> _activities = [];

    /// <summary>Acknowledgements that arrived before this run knew the decision, applied once it does.</summary>
    private readonly List<AckEvent> _earlyAcks = [];

    /// <summary>The decision a one-phase branch recorded itself and finished its branch by, from its vote.</summary>
    private Decision? _recordedByBranch;

    /// <summary>A scheduled activity of one branch: <c>Prepare</c> (a <see cref="VoteEvent"/> or null) or a phase-2 one (a <see cref="Phase2Result"/>).</summary>
    private sealed record BranchActivity(int Branch, Task Task);

    /// <param name="context">The orchestration's context.</param>
    /// <param name="request">The orchestration's input as the engine read it; null or invalid fails the run (with an alert, Abort recorded).</param>
    /// <param name="options">Timing of the durable timers.</param>
    public TwoPhaseCommitOrchestration(TaskOrchestrationContext context, TransactionRequest? request, CoordinatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        _context = context;
        _request = request;
        _options = options;
        _logger = context.CreateReplaySafeLogger<TwoPhaseCommitOrchestration>();
    }

    private DateTimeOffset Now => new(DateTime.SpecifyKind(_context.CurrentUtcDateTime, DateTimeKind.Utc));

    /// <summary>Runs the transaction to its end; on any unexpected exception, compensates, alerts and rethrows (the instance ends Failed).</summary>
    public async Task<TransactionView> RunAsync()
    {
        try
        {
            _state = Read(_request, _context.InstanceId);
            return await RunTransactionAsync();
        }
        catch (Exception ex) when (!IsEngineControlFlow(ex))
        {
            await CompensateAsync(ex);

            // DurableTask.Core ends an orchestration, failed or not, only once no durable timer is open: without this the
            // instance would stay Running until its vote deadline or phase-2 retry fired.
            CancelTimers();
            throw;
        }
    }

    /// <summary>The engine's own exceptions, which end or abandon an episode: never caught, never compensated.</summary>
    public static bool IsEngineControlFlow(Exception exception) =>
        exception is SessionAbortedException or NonDeterministicOrchestrationException;

    /// <summary>The state of a new transaction from the orchestration's input, or <see cref="InvalidDataException"/> when the input is not one it can run.</summary>
    private static TransactionState Read(TransactionRequest? request, string instanceId)
    {
        if (ProblemOf(request, instanceId) is { } problem)
        {
            throw new InvalidDataException($"The orchestration input is not a transaction request it can run: {problem}.");
        }

        return TransactionState.Create(
            instanceId,
            request!.Branches!.Select(b => (b.Participant, b.Operation, b.Kind)),
            request.CreatedAt,
            TimeSpan.FromSeconds(request.TimeoutSeconds));
    }

    /// <summary>Why <paramref name="request"/> is not a transaction instance <paramref name="instanceId"/> can run, or null when it is.</summary>
    public static string? ProblemOf(TransactionRequest? request, string instanceId) => request switch
    {
        null => "the input is empty",
        _ when request.Id != instanceId => $"the input is the request of transaction '{request.Id}', not of this instance",
        { TimeoutSeconds: < 1 or > Identifiers.MaxTimeoutSeconds } => $"timeoutSeconds {request.TimeoutSeconds} is not 1-{Identifiers.MaxTimeoutSeconds}",
        { Branches: null or { Count: 0 } } => "the input has no branches",
        { Branches.Count: > Identifiers.MaxBranches } => $"the input has {request.Branches.Count} branches, more than {Identifiers.MaxBranches}",
        _ when request.Branches.Any(b => b is null || string.IsNullOrEmpty(b.Participant) || string.IsNullOrEmpty(b.Operation)) =>
            "a branch has no participant or no operation",
        _ => null,
    };

    /// <summary>The protocol's script: fan out the prepares; wait for the votes, the deadline or an abort, and decide; carry out phase 2 until every branch acknowledged.</summary>
    private async Task<TransactionView> RunTransactionAsync()
    {
        _logger.TransactionStarted(_state.Id, _state.Branches.Length, _state.Deadline);
        Publish();
        _vote = _context.WaitForExternalEvent<VoteEvent>(TransactionEvents.Vote);
        _ack = _context.WaitForExternalEvent<AckEvent>(TransactionEvents.Ack);
        _abort = _context.WaitForExternalEvent<AbortEvent>(TransactionEvents.Abort);
        if (_request!.Finishing is { } ended)
        {
            // A run that finishes an ended one: the recorded decision, or presumed abort, and its phase 2.
            await FinishEndedRunAsync(ended);
        }
        else
        {
            ArmDeadline();
            Execute(Coordinator.Start(_state, _options));
            while (_state.Decision is null && !_state.Status.IsTerminal())
            {
                await NextAsync();
            }
        }

        while (!_state.Status.IsTerminal())
        {
            await NextAsync();
        }

        CancelTimers();
        _logger.TransactionCompleted(_state.Id, _state.Status.ToString());
        if (!_context.IsReplaying)
        {
            TransactionTelemetry.TransactionEnded(_state.Status == TransactionStatus.Committed, Now - _state.CreatedAt);
        }

        return TransactionView.From(_state, _request?.SagaNonce);
    }

    /// <summary>
    /// Waits for whichever comes first of what the run waits for (a vote, an acknowledgement or an abort as an event, a branch
    /// activity's result, a durable timer) and applies it; the decision is taken in <see cref="ApplyAsync"/> when it is due.
    /// </summary>
    private async Task NextAsync()
    {
        ArmRetryIfDue();
        var fired = await Task.WhenAny(Pending());
        await ApplyOverdueTimerAsync(fired);

        if (fired == _vote)
        {
            var vote = await _vote;
            _vote = _context.WaitForExternalEvent<VoteEvent>(TransactionEvents.Vote);
            await OnVoteAsync(vote);
        }
        else if (fired == _ack)
        {
            var ack = await _ack;
            _ack = _context.WaitForExternalEvent<AckEvent>(TransactionEvents.Ack);
            await OnAckAsync(ack);
        }
        else if (fired == _abort)
        {
            var abort = await _abort;
            _abort = _context.WaitForExternalEvent<AbortEvent>(TransactionEvents.Abort);
            await ApplyAsync(new AbortRequested(abort.Reason));
        }
        else if (fired == _deadline)
        {
            _deadline = null;
            await ApplyAsync(new VoteDeadlinePassed());
        }
        else if (fired == _sagaLimit)
        {
            _sagaLimit = null;
            await ApplyAsync(new SagaPhaseTimeLimitPassed());
        }
        else if (fired == _retry)
        {
            _retry = null;
            await ApplyAsync(new Phase2RetryDue(_retryAttempt));
        }
        else
        {
            await OnActivityCompletedAsync(fired);
        }
    }

    private IEnumerable<Task> Pending()
    {
        yield return _vote;
        yield return _ack;
        yield return _abort;
        if (_deadline is not null)
        {
            yield return _deadline;
        }

        if (_sagaLimit is not null)
        {
            yield return _sagaLimit;
        }

        if (_retry is not null)
        {
            yield return _retry;
        }

        foreach (var activity in _activities)
        {
            yield return activity.Task;
        }
    }

    /// <summary>Applies one event; a step that decides goes through <see cref="DecideAsync"/>.</summary>
    private async Task ApplyAsync(CoordinatorEvent evt)
    {
        var step = Coordinator.Apply(_state, evt, Now, _options);
        if (step.Kind == StepKind.Rejected)
        {
            _logger.EventRejected(_state.Id, evt.GetType().Name, step.Detail);
            return;
        }

        if (_state.Decision is null && step.State.Decision is not null)
        {
            await DecideAsync(step);
            return;
        }

        await TakeAsync(step, step.Commands);
    }

    /// <summary>Moves to <paramref name="step"/>'s state, carries out <paramref name="commands"/>, then applies acknowledgements kept until a decision was known.</summary>
    private async Task TakeAsync(CoordinatorStep step, ImmutableArray<CoordinatorCommand> commands)
    {
        _state = step.State;
        Execute(commands);
        if (step.Changed)
        {
            Publish();
        }

        if (_state.Decision is not null && _earlyAcks.Count > 0)
        {
            AckEvent[] kept = [.. _earlyAcks];
            _earlyAcks.Clear();
            foreach (var ack in kept)
            {
                await ApplyAsync(new BranchAcknowledged(ack.Branch, ack.Outcome, ack.Participant));
            }
        }
    }

    private void Publish() => _context.SetCustomStatus(TransactionView.From(_state, _request?.SagaNonce));
}
