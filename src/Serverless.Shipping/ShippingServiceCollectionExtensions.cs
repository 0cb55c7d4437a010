using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Serverless.Core.Protocol;
using Serverless.ParticipantKit;

namespace Serverless.Shipping;

/// <summary>The shipping app's services, registered the same way by its <c>Program.cs</c> and by the local Functions host.</summary>
public static class ShippingServiceCollectionExtensions
{
    /// <summary>The setting that holds the shipping database's connection string (Npgsql form).</summary>
    public const string ConnectionSetting = "SHIPPING_POSTGRES_CONNECTION";

    /// <exception cref="InvalidOperationException">A setting is missing or wrong; the message names it.</exception>
    public static IServiceCollection AddShipping(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var connection = configuration[ConnectionSetting] is { Length: > 0 } c ? c
            : throw new InvalidOperationException($"{ConnectionSetting} is not set: the shipping app keeps its shipments in a PostgreSQL database of its own (Npgsql connection string; the server needs max_prepared_transactions > 0).");
        services.AddSingleton(_ => NpgsqlDataSource.Create(connection));
        services.AddSingleton(sp => new Shipments(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.Shipping")));
        return services.AddParticipant(Shipments.Participant, configuration, sp => sp.GetRequiredService<Shipments>().ResourceManager, BranchKind.TwoPhase);
    }
}
