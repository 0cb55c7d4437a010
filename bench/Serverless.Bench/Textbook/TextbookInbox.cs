using Azure;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Functions.Storage;

namespace Serverless.Bench.Textbook;

/// <summary>
/// Sends the textbook's signed commands to <see cref="TextbookNames.BankQueue"/>, with the app's codec and its counted
/// queue client (<see cref="StorageClients"/>), as the product's activities do for its own inboxes.
/// </summary>
/// <remarks>When a send returns the message is durable; after an exception it may or may not have been sent (the resource manager tolerates duplicates).</remarks>
public sealed class TextbookInbox(StorageClients storage, MessageCodec codec)
{
    private static readonly TimeSpan NeverExpires = TimeSpan.FromSeconds(-1);

    /// <summary>
    /// Registers what the textbook functions need beyond the app's own services (the local host's <c>configureServices</c>):
    /// its inbox, and the codec its orchestrator and its bank participant sign and verify with, the bank participant's key
    /// (the app keeps one key per participant, and no codec of its own).
    /// </summary>
    public static void Register(IServiceCollection services)
    {
        services.AddSingleton(sp => sp.GetRequiredService<ParticipantKeyring>().For("bank"));
        services.AddSingleton<TextbookInbox>();
    }

    /// <summary>Sends one <paramref name="kind"/> command for <paramref name="command"/>'s branch.</summary>
    public async Task SendAsync(MessageKind kind, TextbookCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var text = codec.Encode(new ProtocolMessage(kind, command.TransactionId)
        {
            Branch = command.Branch,
            Participant = command.Participant,
            Operation = command.Operation,
        });
        var queue = storage.Queues.GetQueueClient(TextbookNames.BankQueue);
        try
        {
            await queue.SendMessageAsync(text, null, NeverExpires, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            await queue.SendMessageAsync(text, null, NeverExpires, cancellationToken);
        }
    }
}
