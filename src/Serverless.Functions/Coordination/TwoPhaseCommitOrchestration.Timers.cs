using Serverless.Core.Protocol;

namespace Serverless.Functions.Coordination;

/// <summary>The orchestration's durable timers: the vote deadline, the saga phase's time limit, and the phase-2 retry.</summary>
public sealed partial class TwoPhaseCommitOrchestration
{
    private readonly CancellationTokenSource _timers = new();

    /// <summary>The vote-deadline timer while it is pending. It also serves as the first phase-2 retry of a decision taken close to it (<see cref="Serverless.Core.Protocol.Coordinator"/>).</summary>
    private Task? _deadline;

    /// <summary>The timer of the saga phase's time limit while it is pending (<see cref="ScheduleSagaPhaseLimit"/>).</summary>
    private Task? _sagaLimit;

    /// <summary>When <see cref="_sagaLimit"/> is due.</summary>
    private DateTimeOffset _sagaLimitDue;

    /// <summary>The phase-2 retry timer while it is pending.</summary>
    private Task? _retry;

    private int _retryAttempt;

    /// <summary>When the phase-2 retry the coordinator asked for is due; its timer is created only if acknowledgements are still owed when the run next waits.</summary>
    private DateTime? _retryDue;

    /// <summary>Sets the timer at the vote deadline.</summary>
    private void ArmDeadline() => _deadline = _context.CreateTimer(_state.Deadline.UtcDateTime, _timers.Token);

    /// <summary>
    /// Creates the phase-2 retry timer the coordinator asked for, if phase 2 is still owed: a transaction whose
    /// acknowledgements all came with the activities that sent its commands never creates it, so none fires after it ended.
    /// </summary>
    private void ArmRetryIfDue()
    {
        if (_retryDue is { } due && _retry is null && _state.HasPendingPhase2)
        {
            _retry = _context.CreateTimer(due, _timers.Token);
            _retryDue = null;
        }
    }

    /// <summary>Sets the timer at the end of the saga phase's time limit, unless it is set already (every saga action asks for it).</summary>
    private void ArmSagaPhaseLimit(DateTimeOffset due)
    {
        if (_sagaLimit is null)
        {
            _sagaLimitDue = due;
            _sagaLimit = _context.CreateTimer(due.UtcDateTime, _timers.Token);
        }
    }

    /// <summary>
    /// Applies, before <paramref name="fired"/>, a timer whose time the orchestration's own clock has passed while its event is
    /// not here yet: the engine delivers events in no set order (after a crash, a redelivered timer can come after votes sent
    /// later). So a transaction still preparing at its vote deadline (I4) or past its saga phase's limit is aborted whatever
    /// the order, and when both have passed, the earlier one decides.
    /// </summary>
    private async Task ApplyOverdueTimerAsync(Task fired)
    {
        if (_state.Decision is not null)
        {
            return;
        }

        DateTimeOffset? deadline = _deadline is not null && Now >= _state.Deadline ? _state.Deadline : null;
        DateTimeOffset? sagaLimit = _sagaLimit is not null && Now >= _sagaLimitDue ? _sagaLimitDue : null;
        if (sagaLimit is { } limit && (deadline is not { } due || limit < due))
        {
            if (fired != _sagaLimit)
            {
                _sagaLimit = null;
                await ApplyAsync(new SagaPhaseTimeLimitPassed());
            }
        }
        else if (deadline is not null && fired != _deadline)
        {
            _deadline = null;
            await ApplyAsync(new VoteDeadlinePassed());
        }
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
}
