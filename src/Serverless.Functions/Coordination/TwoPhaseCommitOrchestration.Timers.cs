namespace Serverless.Functions.Coordination;

/// <summary>The orchestration's durable timers: the vote deadline, and the phase-2 retry.</summary>
public sealed partial class TwoPhaseCommitOrchestration
{
    private readonly CancellationTokenSource _timers = new();

    /// <summary>The vote-deadline timer while it is pending. It also serves as the first phase-2 retry of a decision taken close to it (<see cref="Serverless.Core.Protocol.Coordinator"/>).</summary>
    private Task? _deadline;

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

    /// <summary>True when the deadline timer is pending, no decision is taken and the orchestration's clock is past the deadline.</summary>
    private bool DeadlineOverdue() => _deadline is not null && _state.Decision is null && Now >= _state.Deadline;

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
