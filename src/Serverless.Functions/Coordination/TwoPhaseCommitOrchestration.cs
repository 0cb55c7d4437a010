using System.Collections.Immutable;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Telemetry;
using NonDeterministicOrchestrationException = DurableTask.Core.Exceptions.NonDeterministicOrchestrationException;
using SessionAbortedException = DurableTask.Core.Exceptions.SessionAbortedException;

namespace Serverless.Functions.Coordination;

/// <summary>
/// One run of the <c>TwoPhaseCommit</c> orchestration: a loop that turns Durable's events (votes, acknowledgements and
/// an abort request raised as external events, the vote deadline and phase-2 retries as durable timers) into events of
/// the pure <see cref="Coordinator"/>, and carries out the commands it answers with (activities that send commands,
/// durable timers). Deterministic, as an orchestrator must be: no I/O, no clock but the context's.
/// </summary>
/// <remarks>
/// <para><b>I2, decide before phase 2, under replay.</b> Azure Storage sends an episode's activity messages before it
/// commits the episode's history, so after a crash an activity may already have run while the episode replays with its
/// events in another order (a vote and the deadline racing) and proposes the other decision. So no decision is acted on
/// as proposed: the <c>RecordDecision</c> activity writes it first-writer-wins (<see cref="DecisionStore"/>) and sends
/// phase 2 only for the decision it finds recorded, and the orchestration adopts the recorded decision
/// (<see cref="Coordinator.Adopt"/>) whatever it proposed. A one-phase branch reports the decision it recorded itself.</para>
/// <para><b>I7, liveness.</b> Phase 2 is re-sent on durable timers with exponential backoff until every branch that may
/// hold a reservation acknowledges; an activity that keeps failing is retried by the next timer, and recording the
/// decision is retried until it succeeds.</para>
/// <para><b>A failure is never silent.</b> Any other exception (a bug, an input or event payload it cannot handle) is
/// caught around the whole run, except the engine's own control flow (<see cref="SessionAbortedException"/>,
/// <see cref="NonDeterministicOrchestrationException"/>), and compensated before the instance is let fail: with no decision
/// taken, Abort is proposed through <c>RecordDecision</c> (first writer wins, so a decision recorded meanwhile is the one
/// carried out), and phase 2 of the recorded decision is sent once to every branch that may hold a reservation; a
/// Critical operator alert names the exception, the decision and every branch. The exception is then rethrown, so the
/// instance ends Failed: visible to operators and to in-doubt resolution, which finishes whatever is still prepared by
/// the recorded decision. The compensation tries each activity only within its retry policy, so a poison input fails
/// fast instead of looping. An input that is not a request this orchestration can run fails before anything is sent,
/// with Abort recorded.</para>
/// </remarks>
public sealed class TwoPhaseCommitOrchestration
{
    /// <summary>Retries of an activity within one attempt: storage blips. Beyond that the phase-2 timers retry.</summary>
    private static readonly TaskOptions ActivityRetries = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 4, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(10)));

    /// <summary>Longest exception message kept in a decision's reason.</summary>
    private const int MaxFailureLength = 300;

    private readonly TaskOrchestrationContext _context;
    private readonly TransactionRequest? _request;
    private readonly CoordinatorOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _timers = new();
    private TransactionState _state = null!;
    private Task? _deadline;

    /// <summary>True when <see cref="_deadline"/> fires at the vote deadline; false when it fires earlier, for a vote-board check.</summary>
    private bool _deadlineIsFinal;

    /// <summary>Vote-board checks made so far (the fast path's safety net for a report that never came).</summary>
    private int _boardChecks;
    private Task? _retry;
    private int _retryAttempt;

    /// <summary>When the phase-2 retry the coordinator asked for is due; its timer is created only if acknowledgements are still owed when the run next waits.</summary>
    private DateTime? _retryDue;
    private Task<VoteEvent> _vote = null!;
    private Task<AckEvent> _ack = null!;
    private Task<AbortEvent> _abort = null!;

    /// <summary>Acknowledgements that arrived before this run knew the decision, applied once it does.</summary>
    private readonly List<AckEvent> _earlyAcks = [];

    /// <summary>The decision a branch recorded itself and carried out (phase 2 of every other branch sent), from its vote.</summary>
    private Decision? _recordedByBranch;

    /// <summary>When the voter that recorded Commit carried the transaction to its end itself: the times its end shows.</summary>
    private TransactionEnd? _endedByBranch;

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
        var problem = request switch
        {
            null => "the input is empty",
            _ when request.Id != instanceId => $"the input is the request of transaction '{request.Id}', not of this instance",
            { TimeoutSeconds: < 1 or > 3600 } => $"timeoutSeconds {request.TimeoutSeconds} is not 1-3600",
            { Branches: null or { Count: 0 } } => "the input has no branches",
            { Branches.Count: > Identifiers.MaxBranches } => $"the input has {request.Branches.Count} branches, more than {Identifiers.MaxBranches}",
            _ when request.Branches.Any(b => b is null || string.IsNullOrEmpty(b.Participant) || string.IsNullOrEmpty(b.Operation)) =>
                "a branch has no participant or no operation",
            _ => null,
        };
        if (problem is not null)
        {
            throw new InvalidDataException($"The orchestration input is not a transaction request it can run: {problem}.");
        }

        return TransactionState.Create(
            instanceId,
            request!.Branches!.Select(b => (b.Participant, b.Operation)),
            request.CreatedAt,
            TimeSpan.FromSeconds(request.TimeoutSeconds));
    }

    private async Task<TransactionView> RunTransactionAsync()
    {
        _logger.TransactionStarted(_state.Id, _state.Branches.Length, _state.Deadline);
        Publish();
        _vote = _context.WaitForExternalEvent<VoteEvent>(TransactionEvents.Vote);
        _ack = _context.WaitForExternalEvent<AckEvent>(TransactionEvents.Ack);
        _abort = _context.WaitForExternalEvent<AbortEvent>(TransactionEvents.Abort);
        ArmVoteTimer();
        await ExecuteAsync(Coordinator.Start(_state), skipBranch: null);

        while (!_state.Status.IsTerminal())
        {
            if (_retryDue is { } due && _retry is null && _state.HasPendingPhase2)
            {
                // Only now: a transaction whose acknowledgements all came with the events that decided it (the fast path)
                // never creates this timer, so none fires after it ended.
                _retry = _context.CreateTimer(due, _timers.Token);
                _retryDue = null;
            }

            var fired = await Task.WhenAny(Pending());
            if (fired != _deadline && _deadline is not null && _state.Decision is null && Now >= _state.Deadline)
            {
                // The deadline is passed by the orchestration's own clock, but its timer event is not here yet: the engine
                // delivers events in no set order (after a crash, a redelivered timer can come after votes sent later).
                // The deadline goes first, so a transaction still preparing at its deadline is aborted (I4), whatever the order.
                _deadline = null;
                await ApplyAsync(new VoteDeadlinePassed());
            }

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
                if (_deadlineIsFinal || Now >= _state.Deadline)
                {
                    await ApplyAsync(new VoteDeadlinePassed());
                }
                else
                {
                    if (_state.Decision is null)
                    {
                        await CheckVoteBoardAsync();
                    }

                    if (!_state.Status.IsTerminal())
                    {
                        ArmVoteTimer();
                    }
                }
            }
            else if (fired == _retry)
            {
                _retry = null;
                await ApplyAsync(new Phase2RetryDue(_retryAttempt));
            }
        }

        CancelTimers();
        if (_endedByBranch is { } end && _state.Status == TransactionStatus.Committed)
        {
            // The status already showed this end (the start's answer, a status read): the same times, so it never changes.
            _state = TransactionView.Ended(_state, end);
        }

        _logger.TransactionCompleted(_state.Id, _state.Status.ToString());
        if (!_context.IsReplaying)
        {
            TransactionTelemetry.TransactionEnded(_state.Status == TransactionStatus.Committed, Now - _state.CreatedAt);
        }

        return TransactionView.From(_state);
    }

    /// <summary>
    /// Nothing is left to wait for; a cancelled timer that still fires later is discarded by the engine. Cancel runs the
    /// timers' continuations on this (the orchestrator's) thread, as an orchestrator must.
    /// </summary>
    private void CancelTimers()
    {
#pragma warning disable CA1849
        _timers.Cancel();
#pragma warning restore CA1849
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

        if (_retry is not null)
        {
            yield return _retry;
        }
    }

    /// <summary>
    /// Sets the vote timer: at the vote deadline; or, on the fast path while no decision is known, at the next vote-board
    /// check if that comes first (5 s after the start by default, then at twice the interval). One timer at a time, as
    /// before: the check costs a transaction whose votes come in time nothing. The deadline timer also stays the first
    /// phase-2 retry of a decision taken close to it (<see cref="Coordinator"/>), so a decided transaction gets it back.
    /// </summary>
    private void ArmVoteTimer()
    {
        var at = _state.Deadline;
        if (_request?.PreparesSent == true && _state.Decision is null)
        {
            _boardChecks++;
            var check = (_boardChecks == 1 ? _state.CreatedAt : Now) + _options.VoteCheckDelay(_boardChecks);
            if (check < at)
            {
                at = check < Now ? Now : check;
            }
        }

        _deadlineIsFinal = at == _state.Deadline;
        _deadline = _context.CreateTimer(at.UtcDateTime, _timers.Token);
    }

    /// <summary>
    /// The fast path's safety net. The votes of a transaction on the fast path come in one report, from the voter that
    /// completed the vote board; the engine discards a report raised before the orchestration's first episode ("No such
    /// instance": the start's message can come back late, after a lease moved or the instance row raced it). So a
    /// transaction still waiting for votes at a check reads its board and decision record (<c>ReadVoteBoard</c>):
    /// a recorded decision is adopted and its phase 2 sent again to every branch that may hold a reservation (the voter may
    /// not have finished; duplicates are harmless, I5); votes on the board that it lacks are applied as if raised (a vote
    /// goes on the board only once its branch is prepared, I3), and a complete board decides by the usual rule, recorded
    /// first writer wins. A failed read is left to the next check.
    /// </summary>
    private async Task CheckVoteBoardAsync()
    {
        VoteBoardView board;
        try
        {
            board = await _context.CallActivityAsync<VoteBoardView>(nameof(TwoPhaseCommitFunctions.ReadVoteBoard), _state.Id, ActivityRetries);
        }
        catch (TaskFailedException ex)
        {
            _logger.ActivityFailed(_state.Id, nameof(TwoPhaseCommitFunctions.ReadVoteBoard), 1, ex.FailureDetails.ErrorMessage);
            return;
        }

        var missing = board.Votes
            .Where(v => v.Branch >= 0 && v.Branch < _state.Branches.Length && _state.Branches[v.Branch].Vote is null)
            .DistinctBy(v => v.Branch)
            .ToList();
        if (missing.Count == 0 && board.Decision is null)
        {
            _logger.VoteBoardUnchanged(_state.Id, _boardChecks);
            return;
        }

        _logger.VoteBoardRead(_state.Id, _boardChecks, missing.Count, board.Decision?.Decision.ToString() ?? "none");
        _endedByBranch ??= board.End;

        if (_state.Decision is null && board.Decision is { } recorded)
        {
            var adopted = Coordinator.Adopt(_state, recorded, Now, _options);
            if (_endedByBranch is null)
            {
                await TakeAsync(adopted, recorded, adopted.Commands, finishedBranch: null);
                return;
            }

            // The voter recorded the end: it committed every Yes branch itself. Nothing to send; their acknowledgements are
            // that end (a report delayed behind a backlog, or lost, would have carried them).
            await TakeAsync(adopted, recorded, adopted.Commands.RemoveAll(IsPhase2), finishedBranch: null);
            foreach (var branch in _state.Branches.Where(b => b.Vote == Vote.Yes && b.Outcome is null))
            {
                await ApplyAsync(new BranchAcknowledged(branch.Index, BranchOutcome.Committed));
            }

            return;
        }

        foreach (var vote in missing)
        {
            await ApplyAsync(new VoteCast(vote.Branch, vote.Vote, vote.Reason));
        }
    }

    /// <summary>A vote; a one-phase branch's vote also carries the decision it recorded and the outcome it finished with.</summary>
    private async Task OnVoteAsync(VoteEvent vote)
    {
        var finished = vote.Decision is not null;
        _recordedByBranch ??= vote.Decision;
        if (vote is { Decision: Decision.Commit, Ended: { } end })
        {
            _endedByBranch = end;
        }

        foreach (var other in vote.Others ?? [])
        {
            // Read from the vote board by the branch that completed it: the votes of branches that raised none themselves.
            if (other.Branch != vote.Branch && other.Branch < _state.Branches.Length && _state.Branches[other.Branch].Vote is null)
            {
                await ApplyAsync(new VoteCast(other.Branch, other.Vote, other.Reason));
            }
        }

        await ApplyAsync(new VoteCast(vote.Branch, vote.Vote, vote.Reason), finished ? vote.Branch : null);
        if (vote.Outcome is { } outcome)
        {
            await OnAckAsync(new AckEvent(vote.Branch, outcome));
        }

        foreach (var branch in vote.Finished ?? [])
        {
            await OnAckAsync(new AckEvent(branch, BranchOutcome.Committed));
        }
    }

    /// <summary>
    /// An acknowledgement. <c>RecordDecision</c> sends phase 2 before it returns, so a participant's acknowledgement can reach
    /// the orchestration before the activity's result does: it is kept until the decision is known, then applied, instead
    /// of being rejected and costing a phase-2 retry.
    /// </summary>
    private async Task OnAckAsync(AckEvent ack)
    {
        if (_state.Decision is null)
        {
            _logger.AcknowledgementKept(_state.Id, ack.Branch, ack.Outcome.ToString());
            _earlyAcks.Add(ack);
            return;
        }

        await ApplyAsync(new BranchAcknowledged(ack.Branch, ack.Outcome));
    }

    /// <summary>
    /// Applies one event. A step that decides is recorded before any of its phase-2 commands leaves (I2), and the recorded
    /// decision is the one carried out. <paramref name="finishedBranch"/> is a branch that finished its own phase 2.
    /// </summary>
    private async Task ApplyAsync(CoordinatorEvent evt, int? finishedBranch = null)
    {
        var step = Coordinator.Apply(_state, evt, Now, _options);
        if (step.Kind == StepKind.Rejected)
        {
            _logger.EventRejected(_state.Id, evt.GetType().Name, step.Detail);
            return;
        }

        var commands = step.Commands;
        if (_state.Decision is null && step.State.Decision is not null)
        {
            var proposed = DecisionRecord.Of(step.State);
            DecisionRecord recorded;
            if (_recordedByBranch == proposed.Decision)
            {
                // A branch recorded this decision (a one-phase branch, or the last voter on the fast path), finished its own
                // branch and sent every other branch its phase 2: nothing is left to record or send.
                recorded = proposed;
                commands = commands.RemoveAll(IsPhase2);
            }
            else
            {
                recorded = await RecordAsync(proposed, Phase2(commands, finishedBranch));
                if (recorded.Decision == proposed.Decision)
                {
                    // RecordDecision sent them, after the record was durable.
                    commands = commands.RemoveAll(IsPhase2);
                }
            }

            if (recorded.Decision != proposed.Decision)
            {
                _logger.DecisionAdopted(_state.Id, proposed.Decision.ToString(), recorded.Decision.ToString(), recorded.Reason);
                step = Coordinator.Adopt(step.State, recorded, Now, _options);
                commands = step.Commands;
            }

            await TakeAsync(step, recorded, commands, finishedBranch);
            return;
        }

        await TakeAsync(step, null, commands, finishedBranch);
    }

    /// <summary>
    /// Moves to <paramref name="step"/>'s state and carries out <paramref name="commands"/>; <paramref name="decided"/> is
    /// the durable decision the step takes, when it takes one. Then applies acknowledgements kept until a decision was known.
    /// </summary>
    private async Task TakeAsync(CoordinatorStep step, DecisionRecord? decided, ImmutableArray<CoordinatorCommand> commands, int? finishedBranch)
    {
        if (decided is not null)
        {
            _logger.TransactionDecided(_state.Id, decided.Decision.ToString(), step.State.Reason);
            if (!_context.IsReplaying)
            {
                TransactionTelemetry.TransactionDecided(Now - _state.CreatedAt);
            }
        }

        var changed = step.Changed;
        _state = step.State;
        await ExecuteAsync(commands, finishedBranch);
        if (changed)
        {
            Publish();
        }

        if (_state.Decision is not null && _earlyAcks.Count > 0)
        {
            AckEvent[] kept = [.. _earlyAcks];
            _earlyAcks.Clear();
            foreach (var ack in kept)
            {
                await ApplyAsync(new BranchAcknowledged(ack.Branch, ack.Outcome));
            }
        }
    }

    /// <summary>Records the decision, retrying until storage takes it: nothing may happen in phase 2 before it.</summary>
    private async Task<DecisionRecord> RecordAsync(DecisionRecord proposed, IReadOnlyList<BranchCommand> phase2)
    {
        var input = new RecordDecisionInput(_state.Id, proposed, phase2);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await _context.CallActivityAsync<DecisionRecord>(nameof(TwoPhaseCommitFunctions.RecordDecision), input, ActivityRetries);
            }
            catch (TaskFailedException ex)
            {
                _logger.ActivityFailed(_state.Id, nameof(TwoPhaseCommitFunctions.RecordDecision), attempt, ex.FailureDetails.ErrorMessage);
                await _context.CreateTimer(Now.UtcDateTime + _options.Phase2RetryDelay(attempt), CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// The compensating path of a failed run, taken once: makes sure a decision is recorded (Abort proposed, first writer
    /// wins) and that phase 2 of the recorded decision has been sent to every branch that may hold a reservation, then
    /// raises the operator alert. Never throws but the engine's own exceptions: whatever it cannot do is in the alert, and
    /// in-doubt resolution finishes the rest from the decision record once the instance has ended.
    /// </summary>
    private async Task CompensateAsync(Exception failure)
    {
        var id = _context.InstanceId;
        var reason = FailureReason(failure);
        TransactionState? state = _state;
        DecisionRecord? recorded = null;
        var sent = 0;
        string compensation;
        try
        {
            if (state is null)
            {
                // The input could not be run: nothing was sent, so no branch can hold anything of this run. Abort is recorded
                // so that an inquiry or the in-doubt resolver answers from the record.
                recorded = await RecordOnceAsync(new DecisionRecord(Decision.Abort, reason, Now, []), []);
            }
            else if (state.Decision is null)
            {
                var aborting = Coordinator.Apply(state, new AbortRequested(), Now, _options);
                var decided = aborting.State with { Reason = reason };
                var rollbacks = Phase2(aborting.Commands, skipBranch: null);
                recorded = await RecordOnceAsync(DecisionRecord.Of(decided), rollbacks);
                state = decided;
                if (recorded.Decision == Decision.Abort)
                {
                    sent = rollbacks.Count;
                }
                else
                {
                    // Decided meanwhile (this run's own record before it failed, a one-phase branch): carry that out.
                    var adopted = Coordinator.Adopt(decided, recorded, Now, _options);
                    state = adopted.State;
                    sent = await SendOnceAsync(Phase2(adopted.Commands, skipBranch: null));
                }
            }
            else
            {
                // The state's decision is the recorded one (adopted before it was acted on): send what is still owed.
                recorded = DecisionRecord.Of(state);
                sent = await SendOnceAsync(Phase2(Coordinator.Resume(state, _options), skipBranch: null));
            }

            compensation = $"{recorded.Decision} recorded; phase 2 sent to {sent} branch(es)";
            if (state is not null)
            {
                _state = state;
                Publish();
            }
        }
        catch (Exception ex) when (!IsEngineControlFlow(ex))
        {
            compensation = $"compensation failed ({Describe(ex)}); in-doubt resolution must finish the branches";
        }

        _logger.OrchestrationFailed(
            failure,
            id,
            Describe(failure),
            recorded?.Decision.ToString() ?? "none",
            compensation,
            state is null ? "unknown (the input could not be read)" : string.Join("; ", state.Branches.Select(b =>
                $"{b.Index} {b.Participant}: vote {b.Vote?.ToString() ?? "none"}, outcome {b.Outcome?.ToString() ?? "none"}")));
    }

    /// <summary>RecordDecision within its retry policy only: a failed run is compensated once, not retried forever.</summary>
    private Task<DecisionRecord> RecordOnceAsync(DecisionRecord proposed, IReadOnlyList<BranchCommand> phase2) =>
        _context.CallActivityAsync<DecisionRecord>(
            nameof(TwoPhaseCommitFunctions.RecordDecision), new RecordDecisionInput(_context.InstanceId, proposed, phase2), ActivityRetries);

    private async Task<int> SendOnceAsync(IReadOnlyList<BranchCommand> commands)
    {
        if (commands.Count > 0)
        {
            await _context.CallActivityAsync<int>(
                nameof(TwoPhaseCommitFunctions.SendCommands), new SendCommandsInput(_context.InstanceId, commands), ActivityRetries);
        }

        return commands.Count;
    }

    /// <summary>The reason recorded with the Abort a failed run proposes: "orchestration failed: InvalidDataException: …".</summary>
    public static string FailureReason(Exception failure) => $"{FailureReasonPrefix}{Describe(failure)}";

    /// <summary>How the reason of an Abort proposed by a failed run begins.</summary>
    public const string FailureReasonPrefix = "orchestration failed: ";

    private static string Describe(Exception exception)
    {
        var text = exception is TaskFailedException task
            ? $"activity {task.TaskName} failed: {task.FailureDetails.ErrorType}: {task.FailureDetails.ErrorMessage}"
            : $"{exception.GetType().Name}: {exception.Message}";
        return text.Length > MaxFailureLength ? text[..MaxFailureLength] + "…" : text;
    }

    private async Task ExecuteAsync(ImmutableArray<CoordinatorCommand> commands, int? skipBranch)
    {
        var sends = new List<BranchCommand>();
        foreach (var command in commands)
        {
            switch (command)
            {
                case SendPrepare when _request?.PreparesSent == true:
                    // The start request sent them (the fast path).
                    break;
                case SendPrepare p:
                    sends.Add(Command(MessageKind.Prepare, p.Branch, onePhase: _state.Branches.Length == 1));
                    break;
                case SendCommit or SendRollback when Branch(command) != skipBranch:
                    sends.Add(Command(command is SendCommit ? MessageKind.Commit : MessageKind.Rollback, Branch(command)));
                    break;
                case SchedulePhase2Retry r when _retry is null:
                    _retryAttempt = r.Attempt;
                    _retryDue = Now.UtcDateTime + r.Delay;
                    break;
                case ScheduleVoteDeadline:
                    ArmVoteTimer();
                    break;
            }
        }

        if (sends.Count == 0)
        {
            return;
        }

        try
        {
            await _context.CallActivityAsync<int>(nameof(TwoPhaseCommitFunctions.SendCommands), new SendCommandsInput(_state.Id, sends), ActivityRetries);
        }
        catch (TaskFailedException ex)
        {
            // Not fatal: an unsent prepare ends in the deadline's abort, an unsent phase-2 command is re-sent by the retry timer.
            _logger.ActivityFailed(_state.Id, nameof(TwoPhaseCommitFunctions.SendCommands), 1, ex.FailureDetails.ErrorMessage);
        }
    }

    private List<BranchCommand> Phase2(ImmutableArray<CoordinatorCommand> commands, int? skipBranch) =>
        [.. commands.Where(c => IsPhase2(c) && Branch(c) != skipBranch)
            .Select(c => Command(c is SendCommit ? MessageKind.Commit : MessageKind.Rollback, Branch(c)))];

    private BranchCommand Command(MessageKind kind, int branch, bool onePhase = false)
    {
        var b = _state.Branches[branch];
        return new BranchCommand(kind, b.Index, b.Participant, b.Operation, onePhase);
    }

    private static bool IsPhase2(CoordinatorCommand command) => command is SendCommit or SendRollback;

    private static int Branch(CoordinatorCommand command) => command switch
    {
        SendCommit c => c.Branch,
        SendRollback r => r.Branch,
        SendPrepare p => p.Branch,
        _ => -1,
    };

    private void Publish() => _context.SetCustomStatus(TransactionView.From(_state));
}
