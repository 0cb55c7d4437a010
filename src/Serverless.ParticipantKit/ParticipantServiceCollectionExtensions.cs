using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.ParticipantKit;

/// <summary>The kit's one registration call.</summary>
public static class ParticipantServiceCollectionExtensions
{
    /// <summary>
    /// Hosts participant <paramref name="name"/> in this app: its resource manager <typeparamref name="T"/> (a singleton made by
    /// <paramref name="create"/>), the branch kinds it takes (2PC when none are named), its key from
    /// <c>PARTICIPANT_{NAME}_SIGNING_KEY</c>, and the protocol's queues through the connection <c>COORDINATOR_STORAGE</c>. Then
    /// inject <see cref="ParticipantInbox"/> into the app's queue function and <see cref="InDoubtInquiries"/> into a timer function.
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddParticipant("shipping", builder.Configuration,
    ///     sp => new ShippingResourceManager(sp.GetRequiredService&lt;NpgsqlDataSource&gt;()), BranchKind.TwoPhase);
    /// </code>
    /// </example>
    /// <exception cref="InvalidOperationException">The participant's key is not set or too short; the message names the setting.</exception>
    public static IServiceCollection AddParticipant<T>(
        this IServiceCollection services, string name, IConfiguration configuration, Func<IServiceProvider, T> create, params BranchKind[] kinds)
        where T : class, IResourceManager
    {
        ArgumentNullException.ThrowIfNull(configuration);
        CheckName(name);
        var keys = ParticipantSettings.RequiredKeys(configuration, name);
        var options = ParticipantSettings.Options(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(options);
        services.TryAddSingleton(sp => new ParticipantQueues(
            ParticipantSettings.QueueService(configuration, ParticipantSettings.CoordinatorStorage),
            sp.GetRequiredService<ParticipantKeyring>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<ParticipantQueues>>()));
        services.AddSingleton(new OwnKey(name, keys));
        if (!services.Any(d => d.ServiceType == typeof(ParticipantInitializer)))
        {
            services.AddSingleton<ParticipantInitializer>();
            services.AddHostedService(sp => sp.GetRequiredService<ParticipantInitializer>());
        }

        services.TryAddSingleton(sp =>
        {
            var own = sp.GetServices<OwnKey>().ToDictionary(k => k.Participant, k => k.Keys, StringComparer.Ordinal);
            return ParticipantKeyring.Of(participant => own.GetValueOrDefault(participant));
        });
        return services.AddParticipant(name, create, kinds);
    }

    /// <summary>
    /// Registers participant <paramref name="name"/> with its resource manager only: for an app that provides the kit's other
    /// services itself (the coordinator's app, whose participants' keys derive from its own).
    /// </summary>
    public static IServiceCollection AddParticipant<T>(this IServiceCollection services, string name, Func<IServiceProvider, T> create, params BranchKind[] kinds)
        where T : class, IResourceManager
    {
        ArgumentNullException.ThrowIfNull(create);
        CheckName(name);
        services.AddSingleton(create);
        services.AddSingleton(new ParticipantRegistration(name, sp => sp.GetRequiredService<T>(), kinds.Length == 0 ? [BranchKind.TwoPhase] : kinds));
        services.TryAddSingleton<ParticipantResourceManagers>();
        services.TryAddSingleton<ParticipantInbox>();
        services.TryAddSingleton<InDoubtInquiries>();
        return services;
    }

    private static void CheckName(string name)
    {
        if (!Identifiers.IsValidParticipantName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid participant name: 1-{Identifiers.MaxParticipantNameLength} lower-case letters, digits and inner hyphens", nameof(name));
        }
    }

    /// <summary>A participant's keys, as its app holds them.</summary>
    private sealed record OwnKey(string Participant, ParticipantKeys Keys);
}
