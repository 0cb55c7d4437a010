using Serverless.Core.Messaging;
using Serverless.Core.Participants;

namespace Serverless.Functions.Participants;

/// <summary>
/// A command for one branch of a transaction: the input of the <c>Prepare</c> activity (and of <c>SagaAction</c>, with
/// <see cref="MessageKind.Prepare"/>: a saga action is its branch's first phase), and the command of a phase-2 activity.
/// </summary>
/// <param name="TransactionId">The transaction.</param>
/// <param name="Kind">Prepare, Commit or Rollback.</param>
/// <param name="Branch">The branch's index in the request.</param>
/// <param name="Participant">The participant, whose inbox is <c>tx-participant-{name}</c>.</param>
/// <param name="Operation">The branch's operation, compact JSON.</param>
/// <param name="OnePhase">A prepare of a transaction's only branch: the participant decides its outcome (one-phase commit).</param>
/// <param name="Key">A saga branch's idempotency key at its service (<see cref="SagaKeys.Of"/>).</param>
public sealed record BranchCommand(string TransactionId, MessageKind Kind, int Branch, string Participant, string Operation, bool OnePhase = false, string? Key = null)
{
    public ProtocolMessage ToMessage() => new(Kind, TransactionId)
    {
        Branch = Branch,
        Participant = Participant,
        Operation = Operation,
        OnePhase = OnePhase,
    };
}
