using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Participants;
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

        if (hosted.Contains("orders"))
        {
            services.AddSingleton(_ => Npgsql.NpgsqlDataSource.Create(settings.OrdersConnectionString!));
            services.AddSingleton(sp => new OrdersResourceManager(new Serverless.Participants.Postgres.OrdersParticipant(
                sp.GetRequiredService<Npgsql.NpgsqlDataSource>(), logger: sp.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.Orders"))));
            AddParticipant<OrdersResourceManager>(services, "orders");
            services.AddHostedService<OrdersRecoveryService>();
        }

        services.AddSingleton(sp => Listeners(sp));
        services.AddSingleton<StorageInitializer>();
        services.AddHostedService(sp => sp.GetRequiredService<StorageInitializer>());
        services.AddHostedService<InDoubtResolverService>();
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
            sp.GetRequiredService<TransactionCoordinator>(),
            sp.GetRequiredService<StorageNames>(),
            sp.GetRequiredService<ILogger<ParticipantDispatcher>>()));
    }

    private static Azure.Data.Tables.TableClient Table(IServiceProvider sp, string name) =>
        sp.GetRequiredService<StorageClients>().Tables.GetTableClient(sp.GetRequiredService<StorageNames>().ParticipantTable(name));

    /// <summary>Every queue trigger of this process: the coordinator's inbox and each hosted participant's, named as in <see cref="CustomHandler.FunctionCatalog"/>.</summary>
    public static IReadOnlyList<(string Function, QueueListener Listener)> Listeners(IServiceProvider services)
    {
        var names = services.GetRequiredService<StorageNames>();
        var coordinator = services.GetRequiredService<TransactionCoordinator>();
        var handlers = new List<(string, string, Func<ProtocolMessage, CancellationToken, Task>)>
        {
            (CustomHandler.FunctionCatalog.CoordinatorFunction, names.CoordinatorQueue, coordinator.HandleAsync),
        };
        handlers.AddRange(services.GetServices<ParticipantDispatcher>()
            .Select(d => (CustomHandler.FunctionCatalog.ParticipantFunction(d.Participant), d.Queue, (Func<ProtocolMessage, CancellationToken, Task>)d.HandleAsync)));
        return [.. handlers.Select(h => (h.Item1, new QueueListener(
            h.Item2,
            h.Item3,
            services.GetRequiredService<QueueTransport>(),
            services.GetRequiredService<MessageCodec>(),
            services.GetRequiredService<QueueListenerOptions>(),
            services.GetRequiredService<ILogger<QueueListener>>())))];
    }
}
