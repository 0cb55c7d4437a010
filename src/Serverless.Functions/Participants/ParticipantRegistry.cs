using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Participants;

namespace Serverless.Functions.Participants;

/// <summary>A participant this app runs: its name (its inbox is <c>tx-participant-{name}</c>) and how to get its resource manager.</summary>
public sealed record ParticipantRegistration(string Name, Func<IServiceProvider, IResourceManager> ResourceManager);

/// <summary>The participants this app runs, by name, each registered once by its module (<see cref="ParticipantServiceCollectionExtensions.AddParticipant"/>).</summary>
public sealed class ParticipantRegistry(IEnumerable<ParticipantRegistration> registrations, IServiceProvider services)
{
    private readonly Dictionary<string, ParticipantRegistration> _byName = registrations.ToDictionary(r => r.Name, StringComparer.Ordinal);

    public IEnumerable<string> Names => _byName.Keys;

    /// <summary>The name of <paramref name="participant"/>'s queue function, as every participant module names it: <c>bank</c>, <c>BankParticipant</c>.</summary>
    public static string InboxFunction(string participant) =>
        string.IsNullOrEmpty(participant) ? participant : $"{char.ToUpperInvariant(participant[0])}{participant[1..]}Participant";

    /// <summary>The resource manager of <paramref name="participant"/>, or null when this app does not run it.</summary>
    public IResourceManager? Find(string participant) =>
        _byName.TryGetValue(participant, out var registration) ? registration.ResourceManager(services) : null;

    /// <summary>The resource manager of <paramref name="participant"/>; throws when this app does not run it (a configuration error).</summary>
    public IResourceManager Get(string participant) => Find(participant)
        ?? throw new InvalidOperationException($"participant '{participant}' is not configured in this app; see the README's configuration section");

    /// <summary>Every resource manager this app runs, created on first use.</summary>
    public IEnumerable<(string Name, IResourceManager ResourceManager)> All() => _byName.Values.Select(r => (r.Name, r.ResourceManager(services)));
}

public static class ParticipantServiceCollectionExtensions
{
    /// <summary>Registers the resource manager <typeparamref name="T"/> (a singleton created by <paramref name="create"/>) as participant <paramref name="name"/>.</summary>
    public static IServiceCollection AddParticipant<T>(this IServiceCollection services, string name, Func<IServiceProvider, T> create)
        where T : class, IResourceManager
    {
        services.AddSingleton(create);
        services.AddSingleton(new ParticipantRegistration(name, sp => sp.GetRequiredService<T>()));
        return services;
    }
}
