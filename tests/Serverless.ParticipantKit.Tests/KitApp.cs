using System.Text;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Participants.Samples;
using Serverless.Testing;

namespace Serverless.ParticipantKit.Tests;

/// <summary>A clock that reads the real time until a test fixes it.</summary>
public sealed class SettableClock : TimeProvider
{
    /// <summary>The time the clock reads; null for the real time.</summary>
    public DateTimeOffset? Now { get; set; }

    public override DateTimeOffset GetUtcNow() => Now ?? base.GetUtcNow();
}

/// <summary>One message found in a queue: its text as it lies there, and what the coordinator makes of it.</summary>
public sealed record QueuedMessage(string Text, ProtocolMessage? Message);

/// <summary>
/// A participant app as another team builds one with the kit, in this process: the kit's one call,
/// <c>AddParticipant(name, configuration, ...)</c>, over the sample bank's Table-storage resource manager, with its key in
/// <c>PARTICIPANT_{NAME}_SIGNING_KEY</c> and the coordinator's storage (Azurite) in <c>COORDINATOR_STORAGE</c>. Its
/// resource manager's table is created by the kit's initializer, as at an app's start.
/// </summary>
public sealed class KitApp : IAsyncDisposable
{
    /// <summary>The coordinator's own key: the participant's key is derived from it, as the coordinator derives it.</summary>
    public const string CoordinatorKey = "kit-tests-coordinator-key-0123456789abcdef";

    private readonly ServiceProvider _services;
    private readonly QueueServiceClient _queues;

    private KitApp(string participant, ServiceProvider services, BankResourceManager bank, SettableClock clock, string connectionString)
    {
        Participant = participant;
        _services = services;
        Bank = bank;
        Clock = clock;
        _queues = new QueueServiceClient(connectionString, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });
    }

    /// <summary>The keys as the coordinator holds them (every participant's, derived from <see cref="CoordinatorKey"/>).</summary>
    public static ParticipantKeyring Coordinator { get; } = ParticipantKeyring.Derived(CoordinatorKey);

    public string Participant { get; }

    public BankResourceManager Bank { get; }

    /// <summary>The clock the kit reads (in-doubt timing).</summary>
    public SettableClock Clock { get; }

    public ParticipantInbox Inbox => _services.GetRequiredService<ParticipantInbox>();

    public InDoubtInquiries Inquiries => _services.GetRequiredService<InDoubtInquiries>();

    /// <summary>The settings an app of <paramref name="participant"/> runs with against <paramref name="storage"/>.</summary>
    public static Dictionary<string, string?> Settings(string participant, string storage) => new()
    {
        [ParticipantSettings.Name(participant, "SIGNING_KEY")] = ParticipantKeyring.DeriveKey(CoordinatorKey, participant),
        [ParticipantSettings.CoordinatorStorage] = storage,
        ["TRANSACTIONS_IN_DOUBT_SECONDS"] = "60",
    };

    /// <summary>Registers and starts the app; returns once the kit's initializer has created the resource manager's table.</summary>
    public static async Task<KitApp> StartAsync(AzuriteInstance storage, string participant = "demo")
    {
        ArgumentNullException.ThrowIfNull(storage);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Settings(participant, storage.ConnectionString)).Build();
        var clock = new SettableClock();
        var bank = new BankResourceManager(new TableClient(storage.ConnectionString, "DemoAccounts"));
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton<TimeProvider>(clock)
            .AddParticipant(participant, configuration, _ => bank, BranchKind.TwoPhase)
            .BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var app = new KitApp(participant, services, bank, clock, storage.ConnectionString);
        var initializer = services.GetRequiredService<ParticipantInitializer>();
        await initializer.StartAsync(CancellationToken.None);
        await initializer.Initialized.WaitAsync(TimeSpan.FromSeconds(30));
        return app;
    }

    /// <summary>A command as the coordinator sends it to <paramref name="addressee"/>: signed with the key it derives for that participant.</summary>
    public static string Command(MessageKind kind, string transactionId, int branch, string operation, string addressee = "demo") =>
        Coordinator.For(addressee).Encode(new ProtocolMessage(kind, transactionId) { Branch = branch, Participant = addressee, Operation = operation });

    /// <summary>A bank operation as compact JSON.</summary>
    public static string Debit(string account, long amount) => $$"""{"type":"debit","account":"{{account}}","amount":{{amount}}}""";

    public static string Credit(string account, long amount) => $$"""{"type":"credit","account":"{{account}}","amount":{{amount}}}""";

    /// <summary>Hands <paramref name="message"/> to the kit's inbox as the app's queue function would.</summary>
    public Task ReceiveAsync(string message) => Inbox.ReceiveAsync(Participant, message);

    /// <summary>An account's balance and held amount.</summary>
    public async Task<(long Balance, long Held)> AccountAsync(string account) =>
        await Bank.GetAsync(account) ?? throw new InvalidOperationException($"no account '{account}'");

    /// <summary>
    /// The messages in the coordinator's inbox (<c>tx-coordinator</c>), oldest first, each decoded as the coordinator decodes a
    /// participant's message (null when it does not verify). Left in place.
    /// </summary>
    public Task<IReadOnlyList<QueuedMessage>> CoordinatorInboxAsync() => PeekAsync(QueueNames.Coordinator);

    /// <summary>The messages in the participant's poison queue, <c>tx-participant-{name}-poison</c>, as they lie there.</summary>
    public async Task<IReadOnlyList<string>> PoisonedAsync() =>
        [.. (await PeekAsync(QueueNames.Poison(QueueNames.Participant(Participant)))).Select(m => m.Text)];

    public async ValueTask DisposeAsync()
    {
        await _services.GetRequiredService<ParticipantInitializer>().StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
    }

    private async Task<IReadOnlyList<QueuedMessage>> PeekAsync(string queue)
    {
        var client = _queues.GetQueueClient(queue);
        if (!await client.ExistsAsync())
        {
            return [];
        }

        var messages = (await client.PeekMessagesAsync(32)).Value;
        return [.. messages.Select(m =>
        {
            var text = m.Body.ToString();
            return new QueuedMessage(text, Coordinator.TryDecodeFromParticipant(text, out var message, out _) ? message : null);
        })];
    }

    /// <summary>A codec that signs with <paramref name="key"/>.</summary>
    public static MessageCodec CodecOf(string key) => new(Encoding.UTF8.GetBytes(key));
}
