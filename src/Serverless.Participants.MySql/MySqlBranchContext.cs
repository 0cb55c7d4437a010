using System.Text.Json;
using MySqlConnector;
using Serverless.Core.Participants;

namespace Serverless.Participants.MySql;

/// <summary>
/// Does a branch's work inside the XA transaction that will be prepared, and votes.
/// </summary>
/// <remarks>
/// <para>Return <see cref="PrepareResult.Yes"/> to have the XA transaction ended and <c>XA PREPARE</c>d (durable,
/// holding its row locks until the decision). Return a No, or throw <see cref="PrepareRefusedException"/>, to have it
/// rolled back and the No recorded. A constraint violation (duplicate key, failed CHECK, foreign key), a lock wait
/// timeout (1205) or a deadlock (1213) thrown by a command also counts as a No; any other exception rolls everything
/// back and propagates, so that the command is retried. <see cref="Core.Protocol.Vote.ReadOnly"/> rolls back too.</para>
/// <para>The handler must not run <c>XA</c>, <c>COMMIT</c>, <c>ROLLBACK</c> or any statement that commits implicitly
/// (DDL): inside an XA transaction MySQL refuses them. It runs with <c>innodb_lock_wait_timeout</c> set (see
/// <see cref="MySqlParticipantOptions.LockTimeout"/>): a row held by a prepared branch stays locked until that
/// branch's decision, and waiting for it must not block forever.</para>
/// </remarks>
public delegate Task<PrepareResult> MySqlPrepareHandler(MySqlBranchContext context, CancellationToken cancellationToken);

/// <summary>What a <see cref="MySqlPrepareHandler"/> works with.</summary>
/// <param name="Branch">The branch being prepared.</param>
/// <param name="Operation">The branch's operation; valid only during the handler's call.</param>
/// <param name="Connection">The open connection, inside the branch's XA transaction.</param>
/// <param name="Participant">The participant's name.</param>
public sealed record MySqlBranchContext(BranchKey Branch, JsonElement Operation, MySqlConnection Connection, string Participant)
{
    /// <summary>A command on <see cref="Connection"/>, inside the XA transaction.</summary>
    public MySqlCommand CreateCommand(string commandText) => new(commandText, Connection);
}

/// <summary>Thrown by a <see cref="MySqlPrepareHandler"/> to vote No with <see cref="Reason"/>.</summary>
public sealed class PrepareRefusedException(string reason) : Exception(reason)
{
    public string Reason => Message;
}
