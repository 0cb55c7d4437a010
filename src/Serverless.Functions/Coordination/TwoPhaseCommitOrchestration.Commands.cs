using System.Collections.Immutable;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Messaging;
using Serverless.Functions.Participants;

namespace Serverless.Functions.Coordination;

/// <summary>The fan-outs: the coordinator's commands carried out as branch activities and timers.</summary>
public sealed partial class TwoPhaseCommitOrchestration
{
    /// <summary>Carries out the coordinator's commands: branch activities are scheduled (not awaited), timers set.</summary>
    private void Execute(ImmutableArray<CoordinatorCommand> commands)
    {
        foreach (var command in commands)
        {
            switch (command)
            {
                case SendPrepare p:
                    var prepare = Command(MessageKind.Prepare, p.Branch) with { OnePhase = _state.Branches.Length == 1 };
                    _activities.Add(new BranchActivity(p.Branch, _context.CallActivityAsync<VoteEvent?>(nameof(TwoPhaseCommitFunctions.Prepare), prepare, ActivityRetries)));
                    break;
                case RunSagaAction a:
                    var action = Command(MessageKind.Prepare, a.Branch);
                    _activities.Add(new BranchActivity(a.Branch, _context.CallActivityAsync<VoteEvent?>(nameof(TwoPhaseCommitFunctions.SagaAction), action, ActivityRetries)));
                    break;
                case SendCommit or SendRollback:
                    SchedulePhase2(Phase2([command])[0], DecisionRecord.Of(_state));
                    break;
                case SchedulePhase2Retry r when _retry is null:
                    _retryAttempt = r.Attempt;
                    _retryDue = Now.UtcDateTime + r.Delay;
                    break;
                case ScheduleVoteDeadline:
                    ArmDeadline();
                    break;
                case ScheduleSagaPhaseLimit l:
                    ArmSagaPhaseLimit(l.Due);
                    break;
            }
        }
    }

    private Task<Phase2Result> SchedulePhase2(BranchCommand command, DecisionRecord proposed)
    {
        var activity = command.Kind == MessageKind.Commit ? nameof(TwoPhaseCommitFunctions.Commit)
            : _state.Branches[command.Branch].IsSaga ? nameof(TwoPhaseCommitFunctions.Compensate)
            : nameof(TwoPhaseCommitFunctions.Rollback);
        var task = _context.CallActivityAsync<Phase2Result>(activity, new Phase2Input(proposed, command), ActivityRetries);
        _activities.Add(new BranchActivity(command.Branch, task));
        return task;
    }

    private List<BranchCommand> Phase2(ImmutableArray<CoordinatorCommand> commands) =>
        [.. commands.Where(IsPhase2).Select(c => c is SendCommit commit ? Command(MessageKind.Commit, commit.Branch) : Command(MessageKind.Rollback, ((SendRollback)c).Branch))];

    private BranchCommand Command(MessageKind kind, int branch)
    {
        var b = _state.Branches[branch];
        return new BranchCommand(_state.Id, kind, b.Index, b.Participant, b.Operation, Key: b.IsSaga ? SagaKeys.Of(_state.Id, b.Index, _request?.SagaNonce) : null);
    }

    private static bool IsPhase2(CoordinatorCommand command) => command is SendCommit or SendRollback;
}
