using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Api;
using Serverless.Functions.Coordination;
using Serverless.Functions.Faults;
using Serverless.Functions.Http;
using Serverless.Functions.Messaging;
using Serverless.Functions.Participants;
using Serverless.Functions.Participants.Bank;
using Serverless.Functions.Participants.Inventory;
using Serverless.Functions.Participants.Ledger;
using Serverless.Functions.Participants.Orders;
using Serverless.Functions.Participants.Payments;
using Serverless.Functions.Retention;
using Serverless.Functions.Settings;
using Serverless.Functions.Storage;
using Serverless.ParticipantKit;

namespace Serverless.Functions.Hosting;

/// <summary>The app's services, registered the same way by its <c>Program.cs</c> and by the local Functions host.</summary>
public static class TransactionsServiceCollectionExtensions
{
    public static IServiceCollection AddTransactions(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var settings = TransactionsSettings.From(configuration);
        CrashPoints.Validate();
        services.AddSingleton(settings);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<StorageMetrics>();
        services.AddSingleton(sp => StorageClients.Create(
            settings.StorageConnectionString ?? (settings.StorageAccountName is null ? "UseDevelopmentStorage=true" : null),
            settings.StorageAccountName,
            settings.StorageClientId,
            sp.GetRequiredService<StorageMetrics>()));
        services.AddSingleton(settings.CreateKeyring(configuration));
        services.AddSingleton(ParticipantEndpoints.From(configuration, settings.Participants));
        services.AddSingleton(new CoordinatorOptions
        {
            Phase2RetryBase = TimeSpan.FromSeconds(settings.Phase2RetrySeconds),
            HeuristicAfterFailures = settings.HeuristicAfterFailures,
            SagaPhaseLimit = TimeSpan.FromSeconds(settings.SagaPhaseSeconds),
        });
        services.AddSingleton(sp => new DecisionStore(sp.GetRequiredService<StorageClients>().Tables.GetTableClient(StorageNames.DecisionsTable(settings.TaskHub))));
        services.AddSingleton(sp => new TransactionClaims(sp.GetRequiredService<StorageClients>().Tables.GetTableClient(StorageNames.DecisionsTable(settings.TaskHub))));
        services.AddSingleton(sp => new BeginRecords(sp.GetRequiredService<StorageClients>().Tables.GetTableClient(StorageNames.DecisionsTable(settings.TaskHub))));
        services.AddSingleton<IDecisionRecords>(sp => sp.GetRequiredService<DecisionStore>());
        services.AddSingleton(sp => new ParticipantQueues(
            sp.GetRequiredService<StorageClients>().Queues, sp.GetRequiredService<ParticipantKeyring>(), sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<ParticipantQueues>>()));
        services.AddSingleton<CommandQueues>();
        services.AddSingleton<ReplyEvents>();
        services.AddSingleton<ParticipantRegistry>();
        services.AddSingleton<InAppInbox>();
        services.AddSingleton(sp => new HttpParticipantClient(new HttpClient { Timeout = TimeSpan.FromSeconds(settings.RequestTimeoutSeconds) }, sp.GetRequiredService<ParticipantKeyring>()));
        services.AddSingleton<CommandDelivery>();
        services.AddSingleton<InDoubtResolver>();
        services.AddSingleton<HistoryRetention>();
        services.AddSingleton<TransactionViews>();
        services.AddSingleton(sp => new EngineLag(sp.GetRequiredService<StorageClients>(), settings.TaskHub, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<TransactionsApi>();
        services.AddSingleton<TransactionListing>();
        services.AddSingleton<ApiGuard>();
        services.AddSingleton<StorageInitializer>();
        services.AddHostedService(sp => sp.GetRequiredService<StorageInitializer>());

        // The participants this app runs: one line each; a participant's module holds the rest.
        BankParticipant.Register(services);
        InventoryParticipant.Register(services);
        OrdersParticipant.Register(services, settings);
        LedgerParticipant.Register(services, settings);
        PaymentsParticipant.Register(services, settings);
        return services;
    }
}
