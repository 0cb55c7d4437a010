using System.Text.Json;
using Npgsql;
using Serverless.Core.Participants;

namespace Serverless.Participants.Postgres;

/// <summary>
/// Does a branch's work inside the database transaction that will be prepared, and votes.
/// </summary>
/// <remarks>
/// <para>Return <see cref="PrepareResult.Yes"/> to have the transaction <c>PREPARE TRANSACTION</c>-ed (durable,
/// holding its locks until the decision). Return a No, or throw <see cref="PrepareRefusedException"/>, to have
/// it rolled back and the No recorded. An integrity-constraint violation (SQLSTATE class 23) or a lock timeout
/// (55P03) thrown by a command also counts as a No; any other exception rolls everything back and propagates,
/// so that the command is retried. <see cref="Core.Protocol.Vote.ReadOnly"/> rolls the transaction back too.</para>
/// <para>The handler must not commit, roll back or prepare the transaction itself. It runs with
/// <c>lock_timeout</c> set (see <see cref="PostgresParticipantOptions.LockTimeout"/>): a row held by a prepared
/// transaction stays locked until that transaction's decision, and waiting for it must not block forever.</para>
/// </remarks>
public delegate Task<PrepareResult> PostgresPrepareHandler(PostgresBranchContext context, CancellationToken cancellationToken);

/// <summary>What a <see cref="PostgresPrepareHandler"/> works with.</summary>
/// <param name="Branch">The branch being prepared.</param>
/// <param name="Operation">The branch's operation; valid only during the handler's call.</param>
/// <param name="Connection">The open connection, inside <paramref name="Transaction"/>.</param>
/// <param name="Transaction">The transaction that is prepared on a Yes vote.</param>
public sealed record PostgresBranchContext(
    BranchKey Branch,
    JsonElement Operation,
    NpgsqlConnection Connection,
    NpgsqlTransaction Transaction)
{
    /// <summary>A command on <see cref="Connection"/> inside <see cref="Transaction"/>.</summary>
    public NpgsqlCommand CreateCommand(string commandText) => new(commandText, Connection, Transaction);
}

/// <summary>Thrown by a <see cref="PostgresPrepareHandler"/> to vote No with <see cref="Reason"/>.</summary>
public sealed class PrepareRefusedException(string reason) : Exception(reason)
{
    public string Reason => Message;
}
