namespace Serverless.Core.Protocol;

/// <summary>Where a transaction is in the two-phase-commit protocol.</summary>
public enum TransactionStatus
{
    /// <summary>Prepare commands are out; votes are being gathered.</summary>
    Preparing,

    /// <summary>Commit is decided; commit commands are out until every Yes voter acknowledges.</summary>
    Committing,

    /// <summary>Abort is decided; rollback commands are out until every Yes voter acknowledges.</summary>
    Aborting,

    /// <summary>Terminal: every participant that voted Yes has committed.</summary>
    Committed,

    /// <summary>Terminal: every participant that voted Yes has rolled back.</summary>
    Aborted,
}

/// <summary>The coordinator's decision. It is written once (the commit point) and never changes.</summary>
public enum Decision
{
    Commit,
    Abort,
}

/// <summary>A participant's answer to a prepare command.</summary>
public enum Vote
{
    /// <summary>The reservation is durable; the participant waits for the decision.</summary>
    Yes,

    /// <summary>The participant refuses; it reserved nothing.</summary>
    No,

    /// <summary>The operation changes nothing at the participant; it needs no phase-2 command.</summary>
    ReadOnly,
}

/// <summary>
/// How a branch takes part in a transaction. Prepared branches (<see cref="TwoPhase"/>, <see cref="Tcc"/>) are prepared
/// first; saga branches run after every prepared branch voted Yes, one at a time in request order.
/// </summary>
public enum BranchKind
{
    /// <summary>Two-phase commit: prepare holds the change invisibly (a database's prepared transaction); commit or rollback finishes it.</summary>
    TwoPhase,

    /// <summary>Try-Confirm-Cancel: prepare is Try (a visible reservation, such as a hold), commit Confirm, rollback Cancel.</summary>
    Tcc,

    /// <summary>An action that takes effect at once, undone by its compensation when the transaction aborts.</summary>
    Saga,
}

/// <summary>What a participant reports after executing a phase-2 command.</summary>
public enum BranchOutcome
{
    Committed,
    RolledBack,
}

/// <summary>The API names of <see cref="BranchKind"/>.</summary>
public static class BranchKindExtensions
{
    /// <summary>The kind's name in the HTTP API: <c>2pc</c>, <c>tcc</c>, <c>saga</c>.</summary>
    public static string ToApiName(this BranchKind kind) => kind switch
    {
        BranchKind.Tcc => "tcc",
        BranchKind.Saga => "saga",
        _ => "2pc",
    };

    /// <summary>The kind named <paramref name="name"/> in the HTTP API, or null for a name that is none.</summary>
    public static BranchKind? FromApiName(string? name) => name switch
    {
        "2pc" => BranchKind.TwoPhase,
        "tcc" => BranchKind.Tcc,
        "saga" => BranchKind.Saga,
        _ => null,
    };
}

/// <summary>Classifiers over <see cref="TransactionStatus"/>.</summary>
public static class TransactionStatusExtensions
{
    /// <summary>True for <see cref="TransactionStatus.Committed"/> and <see cref="TransactionStatus.Aborted"/>.</summary>
    public static bool IsTerminal(this TransactionStatus status) =>
        status is TransactionStatus.Committed or TransactionStatus.Aborted;

    /// <summary>True once a decision exists, whether or not phase 2 has finished.</summary>
    public static bool IsDecided(this TransactionStatus status) => status != TransactionStatus.Preparing;
}
