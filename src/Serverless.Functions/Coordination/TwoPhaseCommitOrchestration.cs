using System.Collections.Immutable;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;

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
/// </remarks>
public sealed class TwoPhaseCommitOrchestration
{
    /// <summary>Retries of an activity within one attempt: storage blips. Beyond that the phase-2 timers retry.</summary>
    private static readonly TaskOptions ActivityRetries = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 4, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(10)));

    private readonly TaskOrchestrationContext _context;
    private readonly TransactionRequest _request;
    private readonly CoordinatorOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _timers = new();
    private TransactionState _state;
    private Task? _deadline;
    private Task? _retry;
    private int _retryAttempt;
    private Task<VoteEvent> _vote = null!;
    private Task<AckEvent> _ack = null!;
    private Task<AbortEvent> _abort = null!;

    public TwoPhaseCommitOrchestration(TaskOrchestrationContext context, TransactionRequest request, CoordinatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(request);
        _context = context;
        _request = request;
        _options = options;
        _logger = context.CreateReplaySafeLogger<TwoPhaseCommitOrchestration>();
        _state = TransactionState.Create(
            context.InstanceId,
            request.Branches.Select(b => (b.Participant, b.Operation)),
            request.CreatedAt,
            TimeSpan.FromSeconds(request.TimeoutSeconds));
    }

    private DateTimeOffset Now => new(DateTime.SpecifyKind(_context.CurrentUtcDateTime, DateTimeKind.Utc));

    public async Task<TransactionView> RunAsync()
    {
        _logger.TransactionStarted(_state.Id, _state.Branches.Length, _state.Deadline);
        Publish();
        _vote = _context.WaitForExternalEvent<VoteEvent>(TransactionEvents.Vote);
        _ack = _context.WaitForExternalEvent<AckEvent>(TransactionEvents.Ack);
        _abort = _context.WaitForExternalEvent<AbortEvent>(TransactionEvents.Abort);
        _deadline = _context.CreateTimer(_state.Deadline.UtcDateTime, _timers.Token);
        await ExecuteAsync(Coordinator.Start(_state), skipBranch: null);

        while (!_state.Status.IsTerminal())
        {
            var fired = await Task.WhenAny(Pending());
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
                await ApplyAsync(new BranchAcknowledged(ack.Branch, ack.Outcome));
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
            else if (fired == _retry)
            {
                _retry = null;
                await ApplyAsync(new Phase2RetryDue(_retryAttempt));
            }
        }

        // Nothing is left to wait for; a cancelled timer that still fires later is discarded by the engine. Cancel runs the
        // timers' continuations on this (the orchestrator's) thread, as an orchestrator must.
#pragma warning disable CA1849
        _timers.Cancel();
#pragma warning restore CA1849
        _logger.TransactionCompleted(_state.Id, _state.Status.ToString());
        return TransactionView.From(_state);
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

    /// <summary>A vote; a one-phase branch's vote also carries the decision it recorded and the outcome it finished with.</summary>
    private async Task OnVoteAsync(VoteEvent vote)
    {
        var finished = vote.Decision is not null;
        await ApplyAsync(new VoteCast(vote.Branch, vote.Vote, vote.Reason), finished ? vote.Branch : null, vote.Decision);
        if (vote.Outcome is { } outcome)
        {
            await ApplyAsync(new BranchAcknowledged(vote.Branch, outcome));
        }
    }

    /// <summary>
    /// Applies one event. A step that decides is recorded before any of its phase-2 commands leaves (I2), and the recorded
    /// decision is the one carried out. <paramref name="finishedBranch"/> is a branch that finished its own phase 2, under
    /// <paramref name="recordedByBranch"/>, the decision it found recorded.
    /// </summary>
    private async Task ApplyAsync(CoordinatorEvent evt, int? finishedBranch = null, Decision? recordedByBranch = null)
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
            if (recordedByBranch == proposed.Decision)
            {
                // A one-phase branch recorded this decision before finishing; the other commands (none, for a single
                // branch) go out below, after that record.
                recorded = proposed;
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

            _logger.TransactionDecided(_state.Id, recorded.Decision.ToString(), step.State.Reason);
        }

        var changed = step.Changed;
        _state = step.State;
        await ExecuteAsync(commands, finishedBranch);
        if (changed)
        {
            Publish();
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

    private async Task ExecuteAsync(ImmutableArray<CoordinatorCommand> commands, int? skipBranch)
    {
        var sends = new List<BranchCommand>();
        foreach (var command in commands)
        {
            switch (command)
            {
                case SendPrepare p:
                    sends.Add(Command(MessageKind.Prepare, p.Branch, onePhase: _state.Branches.Length == 1));
                    break;
                case SendCommit or SendRollback when Branch(command) != skipBranch:
                    sends.Add(Command(command is SendCommit ? MessageKind.Commit : MessageKind.Rollback, Branch(command)));
                    break;
                case SchedulePhase2Retry r when _retry is null:
                    _retryAttempt = r.Attempt;
                    _retry = _context.CreateTimer(Now.UtcDateTime + r.Delay, _timers.Token);
                    break;
                case ScheduleVoteDeadline d:
                    _deadline = _context.CreateTimer(Now.UtcDateTime + d.Delay, _timers.Token);
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
