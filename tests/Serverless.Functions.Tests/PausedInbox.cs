using Azure.Storage.Queues;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Functions.Participants;
using Serverless.Functions.Storage;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>A command read from a participant's inbox: its text as it lay in the queue, and what it says.</summary>
public sealed record QueuedCommand(string Text, ProtocolMessage Message)
{
    public MessageKind Kind => Message.Kind;

    public int Branch => Message.Branch;

    public override string ToString() => $"{Message.Kind} {Message.TransactionId}/{Message.Branch}";
}

/// <summary>
/// The inbox of a participant whose queue function is disabled on the host (<c>AzureWebJobs.{Function}.Disabled=true</c>):
/// its commands wait in <c>tx-participant-{name}</c> until the test takes them, and the test delivers them, in the order it
/// chooses, through the app's own <see cref="InAppInbox"/>, exactly as the queue function would.
/// </summary>
/// <remarks>Only the commands of the transaction asked for are taken; others are made visible again at once.</remarks>
public sealed class PausedInbox(TestHost host, string participant)
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);

    public string Participant => participant;

    public QueueClient Queue => host.Queue(QueueNames.Participant(participant));

    /// <summary>Every command of <paramref name="transactionId"/> visible in the queue now, left in place (at most 32 messages are looked at).</summary>
    public async Task<IReadOnlyList<QueuedCommand>> PeekAsync(string transactionId)
    {
        if (!await Queue.ExistsAsync())
        {
            return [];
        }

        var peeked = await Queue.PeekMessagesAsync(32);
        return [.. peeked.Value.Select(m => Decode(m.Body.ToString())).Where(c => c.Message.TransactionId == transactionId)];
    }

    /// <summary>Takes (removes) <paramref name="count"/> commands of <paramref name="transactionId"/> that <paramref name="match"/> accepts, waiting for them.</summary>
    public async Task<IReadOnlyList<QueuedCommand>> TakeAsync(string transactionId, int count, TimeSpan timeout, Func<QueuedCommand, bool>? match = null)
    {
        var taken = new List<QueuedCommand>();
        await Eventually.WaitAsync(
            async () =>
            {
                taken.AddRange(await TakeVisibleAsync(transactionId, count - taken.Count, match));
                return taken.Count >= count;
            },
            timeout,
            $"{count} commands of {transactionId} in {Queue.Name} (have: {string.Join(", ", taken)})");
        return taken;
    }

    /// <summary>Takes every command of <paramref name="transactionId"/> visible now (possibly none).</summary>
    public Task<IReadOnlyList<QueuedCommand>> TakeVisibleAsync(string transactionId) => TakeVisibleAsync(transactionId, int.MaxValue, null);

    /// <summary>Hands <paramref name="command"/> to the participant's inbox handler (signature check, resource manager, reply raised).</summary>
    public Task DeliverAsync(QueuedCommand command) =>
        host.Services.GetRequiredService<InAppInbox>().ReceiveAsync(participant, command.Text, host.Services.GetRequiredService<DurableTaskClient>());

    /// <summary>
    /// Delivers every command of <paramref name="transactionId"/> that reaches <paramref name="inboxes"/>, as it arrives, until
    /// the transaction's orchestration has ended;
    /// then takes what is left undelivered. Returns each as "participant Kind branch", in order.
    /// </summary>
    public static async Task<List<string>> DeliverUntilEndAsync(TestHost host, string transactionId, TimeSpan timeout, params PausedInbox[] inboxes)
    {
        ArgumentNullException.ThrowIfNull(host);
        var seen = new List<string>();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var ended = await host.Services.GetRequiredService<DurableTaskClient>().GetInstanceAsync(transactionId) is { IsCompleted: true };
            foreach (var inbox in inboxes)
            {
                foreach (var command in await inbox.TakeVisibleAsync(transactionId))
                {
                    seen.Add($"{inbox.Participant} {command.Kind} {command.Branch}");
                    if (!ended)
                    {
                        await inbox.DeliverAsync(command);
                    }
                }
            }

            if (ended)
            {
                return seen;
            }

            Assert.True(DateTime.UtcNow < deadline, $"transaction {transactionId} did not end; commands seen: {string.Join(", ", seen)}");
            await Task.Delay(50);
        }
    }

    private async Task<IReadOnlyList<QueuedCommand>> TakeVisibleAsync(string transactionId, int max, Func<QueuedCommand, bool>? match)
    {
        var taken = new List<QueuedCommand>();
        if (max <= 0 || !await Queue.ExistsAsync())
        {
            return taken;
        }

        while (true)
        {
            var received = (await Queue.ReceiveMessagesAsync(32, Lease)).Value;
            if (received.Length == 0)
            {
                return taken;
            }

            var others = 0;
            foreach (var message in received)
            {
                var command = Decode(message.Body.ToString());
                if (taken.Count < max && command.Message.TransactionId == transactionId && (match is null || match(command)))
                {
                    taken.Add(command);
                    await Queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                }
                else
                {
                    others++;
                    await Queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.Zero);
                }
            }

            if (others > 0 || taken.Count >= max)
            {
                // What is left visible is not ours (or not wanted yet): looking again would only find it again.
                return taken;
            }
        }
    }

    private QueuedCommand Decode(string text)
    {
        Assert.True(host.CodecOf(Participant).TryDecode(text, out var message, out var error), $"a command in {Queue.Name} does not decode: {error}");
        return new QueuedCommand(text, message!);
    }
}
