using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Participants;
using Serverless.Runtime.Samples;
using Serverless.Runtime.Storage;

namespace Serverless.Functions.Hosting;

/// <summary>Dependency-injection wiring of the coordinator, the hosted participants and the queue listeners.</summary>
public static class TransactionsServices
{
    public static IServiceCollection AddTransactions(this IServiceCollection services, TransactionsSettings settings, QueueListenerOptions queueOptions, bool runListeners)
    {
        ArgumentNullException.ThrowIfNull(settings);
        services.AddSingleton(settings);
        services.AddSingleton(queueOptions);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<StorageMetrics>();
        services.AddSingleton(sp =>
        {
            var log = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.Storage");
            return StorageClients.Create(
                settings.StorageConnectionString ?? (settings.StorageAccountName is null ? "UseDevelopmentStorage=true" : null),
                settings.StorageAccountName,
                settings.StorageClientId,
                sp.GetRequiredService<StorageMetrics>(),
                (queue, _) => HostLogs.UndecodableMessage(log, queue));
        });
        services.AddSingleton(new StorageNames(settings.StoragePrefix));
        services.AddSingleton(new MessageCodec(settings.SigningKeyBytes));
        services.AddSingleton(new CoordinatorOptions { Phase2RetryBase = TimeSpan.FromSeconds(settings.Phase2RetrySeconds) });
        services.AddSingleton<CompletionSignals>();
        services.AddSingleton(sp => new QueueTransport(sp.GetRequiredService<StorageClients>().Queues));
        services.AddSingleton<IMessageSender>(sp => sp.GetRequiredService<QueueTransport>());
        services.AddSingleton(sp => new TransactionStore(
            sp.GetRequiredService<StorageClients>().Tables.GetTableClient(sp.GetRequiredService<StorageNames>().TransactionsTable)));
        services.AddSingleton<TransactionCoordinator>();

        var hosted = settings.Hosted;
        if (hosted.Contains("bank"))
        {
            services.AddSingleton(sp => new BankResourceManager(Table(sp, "BankAccounts")));
            AddParticipant<BankResourceManager>(services, "bank");
        }

        if (hosted.Contains("inventory"))
        {
            services.AddSingleton(sp => new InventoryResourceManager(Table(sp, "InventoryItems")));
            AddParticipant<InventoryResourceManager>(services, "inventory");
        }

        services.AddSingleton<StorageInitializer>();
        services.AddHostedService(sp => sp.GetRequiredService<StorageInitializer>());
        if (runListeners)
        {
            services.AddHostedService<QueueListenersService>();
        }

        return services;
    }

    /// <summary>Registers the resource manager <typeparamref name="T"/> as the participant <paramref name="name"/>.</summary>
    public static void AddParticipant<T>(IServiceCollection services, string name)
        where T : IResourceManager
    {
        services.AddSingleton(sp => new ParticipantDispatcher(
            name,
            sp.GetRequiredService<T>(),
            sp.GetRequiredService<IMessageSender>(),
            sp.GetRequiredService<MessageCodec>(),
            sp.GetRequiredService<StorageNames>(),
            sp.GetRequiredService<ILogger<ParticipantDispatcher>>()));
    }

    private static Azure.Data.Tables.TableClient Table(IServiceProvider sp, string name) =>
        sp.GetRequiredService<StorageClients>().Tables.GetTableClient(sp.GetRequiredService<StorageNames>().ParticipantTable(name));

    /// <summary>Every queue handler of this process: the coordinator's inbox and each hosted participant's.</summary>
    public static IReadOnlyList<(string Queue, Func<ProtocolMessage, CancellationToken, Task> Handler)> Handlers(IServiceProvider services)
    {
        var names = services.GetRequiredService<StorageNames>();
        var coordinator = services.GetRequiredService<TransactionCoordinator>();
        var list = new List<(string, Func<ProtocolMessage, CancellationToken, Task>)> { (names.CoordinatorQueue, coordinator.HandleAsync) };
        list.AddRange(services.GetServices<ParticipantDispatcher>().Select(d => (d.Queue, (Func<ProtocolMessage, CancellationToken, Task>)d.HandleAsync)));
        return list;
    }
}
