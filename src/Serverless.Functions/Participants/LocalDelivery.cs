using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serverless.Functions.Coordination;
using Serverless.Functions.Hosting;
using Serverless.Functions.Messaging;
using Serverless.Functions.Storage;

namespace Serverless.Functions.Participants;

/// <summary>
/// Sends a transaction's prepares, and hands those of this app's own participants to them in this process at once, as if
/// their queue function had just received them: one queue receive less per branch, and the branches of a transaction are
/// prepared together (so their votes and Commit go to storage in one request, <see cref="ParticipantInbox"/>).
/// </summary>
/// <remarks>
/// Each handed command is first sent to its inbox hidden for <see cref="TransactionsSettings.LocalDeliveryLease"/>, the
/// lease a receive would take, so it is durable before it is acted on, exactly as a received one (I5). Handled, it is
/// deleted; if the handler fails, or this process stops or crashes first, the command reappears when the lease ends and
/// the queue function handles it then, like any message whose function failed. A handler that outlives the lease may meet
/// a second delivery of its command: participants answer a repeated command as the first time (I5). At most
/// <see cref="MaxInProcess"/> commands are handled this way at a time (the queue trigger's default batch size): beyond,
/// the commands go by the queue, whose function takes them at its own pace, so that an overload queues up in the inboxes
/// instead of in this process.
/// </remarks>
public sealed class LocalDelivery(
    IConfiguration configuration,
    TransactionsSettings settings,
    ParticipantRegistry participants,
    ProtocolQueues queues,
    ParticipantInbox inbox,
    IHostApplicationLifetime lifetime,
    ILogger<LocalDelivery> logger)
{
    /// <summary>Most commands handled in this process at a time.</summary>
    public const int MaxInProcess = 16;

    private readonly SemaphoreSlim _slots = new(MaxInProcess, MaxInProcess);

    /// <summary>
    /// Sends the commands (durable when this returns) and starts handling each of this app's participants in the
    /// background as soon as it is durable; <paramref name="client"/> raises their replies.
    /// </summary>
    public async Task SendAsync(string transactionId, IReadOnlyList<BranchCommand> commands, DurableTaskClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(commands);
        ArgumentNullException.ThrowIfNull(client);
        var here = settings.LocalDeliveryLease > TimeSpan.Zero ? commands.Where(c => RunsInbox(c.Participant)).ToList() : [];
        if (!TryTake(here.Count))
        {
            // Busy: all of them by the queue (a transaction's prepares together, so that its votes still meet in one round).
            here = [];
        }

        var elsewhere = queues.SendAsync(transactionId, commands.Except(here), cancellationToken);
        var handed = 0;
        try
        {
            await queues.SendLeasedAsync(
                transactionId,
                here,
                settings.LocalDeliveryLease,
                command =>
                {
                    Interlocked.Increment(ref handed);
                    _ = Task.Run(() => HandleAsync(transactionId, command, client), CancellationToken.None);
                },
                cancellationToken);
        }
        finally
        {
            // Slots of commands that were never handed over (a send failed or was cancelled).
            var unused = here.Count - Volatile.Read(ref handed);
            if (unused > 0)
            {
                _slots.Release(unused);
            }
        }

        await elsewhere;
    }

    /// <summary>
    /// Whether this app runs <paramref name="participant"/>'s queue function: its resource manager is registered and the
    /// function (<c>{Name}Participant</c>, as each participant module names it) is not disabled by
    /// <c>AzureWebJobs.{Function}.Disabled</c>. A participant whose inbox another app serves gets its commands by the queue.
    /// </summary>
    private bool RunsInbox(string participant) =>
        participants.Find(participant) is not null
        && !string.Equals(configuration[$"AzureWebJobs.{ParticipantRegistry.InboxFunction(participant)}.Disabled"], "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Takes <paramref name="count"/> slots at once, or none.</summary>
    private bool TryTake(int count)
    {
        for (var taken = 0; taken < count; taken++)
        {
            if (!_slots.Wait(0))
            {
                if (taken > 0)
                {
                    _slots.Release(taken);
                }

                return false;
            }
        }

        return true;
    }

    private async Task HandleAsync(string transactionId, LeasedCommand command, DurableTaskClient client)
    {
        try
        {
            await HandleOnceAsync(transactionId, command, client);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task HandleOnceAsync(string transactionId, LeasedCommand command, DurableTaskClient client)
    {
        var stopping = lifetime.ApplicationStopping;
        try
        {
            await inbox.HandleAsync(command.Participant, command.Text, client, stopping);
        }
        catch (Exception ex)
        {
            if (StorageErrors.IsUnreachable(ex) || ex is OperationCanceledException)
            {
                logger.LocalDeliveryInterrupted(transactionId, command.Participant, StorageErrors.Describe(ex), settings.LocalDeliveryLease.TotalSeconds);
            }
            else
            {
                logger.LocalDeliveryFailed(ex, transactionId, command.Participant, settings.LocalDeliveryLease.TotalSeconds);
            }

            return;
        }

        try
        {
            if (await queues.DeleteAsync(command, stopping))
            {
                logger.LocalDeliveryHandled(transactionId, command.Participant);
            }
        }
        catch (Exception ex)
        {
            // Handled: the command's second delivery, when its lease ends, is answered as the first time (I5).
            logger.LocalDeliveryNotDeleted(transactionId, command.Participant, StorageErrors.Describe(ex));
        }
    }
}
