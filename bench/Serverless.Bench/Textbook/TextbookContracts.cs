namespace Serverless.Bench.Textbook;

/// <summary>The textbook orchestration's names: its functions, queue, events and outcomes.</summary>
public static class TextbookNames
{
    /// <summary>The orchestrator function, scheduled with the transaction id as instance id.</summary>
    public const string Orchestrator = "TextbookTwoPhaseCommit";

    /// <summary>Sends a branch's prepare command.</summary>
    public const string PrepareActivity = "TextbookPrepare";

    /// <summary>Sends a branch's commit command.</summary>
    public const string CommitActivity = "TextbookCommit";

    /// <summary>Sends a branch's rollback command.</summary>
    public const string RollbackActivity = "TextbookRollback";

    /// <summary>The only participant the textbook runs.</summary>
    public const string Bank = "bank";

    /// <summary>The bank's inbox: its own queue, so the product's <c>tx-participant-bank</c> never sees a textbook command.</summary>
    public const string BankQueue = "textbook-participant-bank";

    /// <summary>The route of the start (POST) and, with <c>/{id}</c>, of the status (GET).</summary>
    public const string Route = "textbook/transactions";

    public const string Committed = "Committed";

    public const string Aborted = "Aborted";

    /// <summary>The external event that carries branch <paramref name="branch"/>'s vote.</summary>
    public static string Vote(int branch) => $"Vote-{branch}";

    /// <summary>The external event that carries branch <paramref name="branch"/>'s acknowledgement of phase 2.</summary>
    public static string Ack(int branch) => $"Ack-{branch}";
}

/// <summary>The orchestration's input: a transaction as the start request gave it.</summary>
/// <param name="Id">The transaction id, also the instance id.</param>
/// <param name="TimeoutSeconds">The vote deadline, from the orchestration's start.</param>
/// <param name="Branches">The branches, in request order (index = position).</param>
public sealed record TextbookRequest(string Id, int TimeoutSeconds, IReadOnlyList<TextbookBranch> Branches);

/// <summary>One branch: its participant and its operation as compact JSON.</summary>
public sealed record TextbookBranch(int Index, string Participant, string Operation);

/// <summary>An activity's input: the command to send for one branch.</summary>
public sealed record TextbookCommand(string TransactionId, int Branch, string Participant, string Operation);

/// <summary>A vote, raised by the participant as the event <see cref="TextbookNames.Vote"/>.</summary>
public sealed record TextbookVote(bool Yes, string? Reason = null);

/// <summary>What the textbook's HTTP functions answer: the transaction and its runtime outcome (<c>Committed</c>, <c>Aborted</c>, or the instance's runtime status while it runs or when it failed).</summary>
public sealed record TextbookStatus(string Id, string Status);
