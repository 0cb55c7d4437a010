using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Functions.Faults;
using Serverless.Functions.Messaging;
using Serverless.Functions.Settings;
using Serverless.Functions.Storage;

namespace Serverless.Functions.Participants;

/// <summary>
/// How the coordinator's activities deliver a command, by the participant's transport (<see cref="ParticipantRegistry.TransportOf"/>):
/// into the participant's inbox, always, and when this app runs that inbox's queue function, handled here at once as that
/// function would, with the reply returned to the activity; or to an HTTP participant, whose answer is the reply.
/// </summary>
/// <remarks>
/// <para>A command handled here is first sent to its inbox hidden for <see cref="TransactionsSettings.LocalDeliveryLease"/>, the
/// lease a queue receive would take, so it is durable before it is acted on, exactly as a received one (I5). Handled, it is
/// deleted; if the handler fails, its lease is ended at once and the queue function handles it, like any message whose
/// function failed; if this process stops or crashes first, the queue function gets it when the lease ends. Either way the
/// reply then reaches the orchestration as an event. A handler that outlives the lease may meet a second delivery of its
/// command: participants answer a repeated command as the first time (I5). How many commands are handled here at a time
/// is bounded by the activities' concurrency (<c>maxConcurrentActivityFunctions</c>).</para>
/// <para>A one-phase prepare goes only to this app's own participants, which share its decision records: any other
/// participant gets an ordinary prepare, and the orchestration decides as for any transaction.</para>
/// <para>An HTTP participant's command that cannot be delivered throws: the activity is retried, then the orchestration's
/// deadline (prepare) or phase-2 timers (commit, rollback) take over.</para>
/// </remarks>
public sealed class CommandDelivery(
    TransactionsSettings settings,
    ParticipantRegistry participants,
    CommandQueues queues,
    InAppInbox inbox,
    HttpParticipantClient http,
    ILogger<CommandDelivery> logger)
{
    /// <summary>
    /// Delivers <paramref name="command"/>; returns the participant's reply when it was handled here or answered over HTTP, null
    /// when its queue function handles it (and the reply comes as an event).
    /// </summary>
    public async Task<ProtocolMessage?> DeliverAsync(BranchCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var transport = participants.TransportOf(command.Participant);
        var message = command.ToMessage() with { OnePhase = command.OnePhase && participants.IsOwn(command.Participant) };
        var crashPoint = command.Kind == MessageKind.Prepare ? CrashPoint.AfterPrepareSent : CrashPoint.AfterPhase2Sent;
        if (transport == ParticipantTransport.Http)
        {
            return await SendOverHttpAsync(command, message, cancellationToken);
        }

        if (transport == ParticipantTransport.Queue || settings.LocalDeliveryLease <= TimeSpan.Zero)
        {
            await queues.SendAsync(message, cancellationToken);
            CrashPoints.Reached(crashPoint, command.TransactionId);
            return null;
        }

        var leased = await queues.SendLeasedAsync(message, settings.LocalDeliveryLease, cancellationToken);
        CrashPoints.Reached(crashPoint, command.TransactionId);
        ProtocolMessage? reply;
        try
        {
            reply = await inbox.HandleAsync(command.Participant, leased.Text, cancellationToken);
        }
        catch (Exception ex)
        {
            logger.LocalDeliveryFailed(ex, command.TransactionId, command.Participant, command.Branch, command.Kind.ToString(), StorageErrors.Describe(ex));
            await ReleaseAsync(leased);
            return null;
        }

        try
        {
            if (await queues.DeleteAsync(leased, cancellationToken))
            {
                logger.LocalDeliveryHandled(command.TransactionId, command.Participant, command.Branch, command.Kind.ToString());
            }
        }
        catch (Exception ex)
        {
            // Handled: the command's second delivery, when its lease ends, is answered as the first time (I5).
            logger.LocalDeliveryNotDeleted(command.TransactionId, command.Participant, StorageErrors.Describe(ex));
        }

        return reply;
    }

    /// <summary>
    /// An HTTP participant's reply. A prepare it does not take throws (the activity is retried, then the deadline decides); a
    /// commit or rollback it does not take returns null, as a command left in an inbox does: the decision the activity
    /// recorded stands, and the phase-2 timers send the command again until it is acknowledged (I7).
    /// </summary>
    private async Task<ProtocolMessage?> SendOverHttpAsync(BranchCommand command, ProtocolMessage message, CancellationToken cancellationToken)
    {
        try
        {
            return await http.SendAsync(participants.UrlOf(command.Participant)!, message, cancellationToken);
        }
        catch (Exception ex) when (command.Kind != MessageKind.Prepare && ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.HttpPhase2NotTaken(command.TransactionId, command.Participant, command.Branch, command.Kind.ToString(), ex.Message);
            return null;
        }
    }

    private async Task ReleaseAsync(LeasedCommand leased)
    {
        try
        {
            await queues.ReleaseAsync(leased, CancellationToken.None);
        }
        catch (Exception ex)
        {
            // Storage unreachable: the lease ends by itself.
            logger.LocalDeliveryNotReleased(leased.Participant, StorageErrors.Describe(ex), settings.LocalDeliveryLease.TotalSeconds);
        }
    }
}
