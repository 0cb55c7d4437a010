using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.ParticipantKit;

/// <summary>
/// A participant an app runs: its name (its inbox is <c>tx-participant-{name}</c>), how to get its resource manager, and the
/// branch kinds it takes (TCC where its prepare is a visible reservation, a Try).
/// </summary>
public sealed record ParticipantRegistration(string Name, Func<IServiceProvider, IResourceManager> ResourceManager, IReadOnlyList<BranchKind> Kinds);

/// <summary>The resource managers of the participants this app runs, by name, each registered once (<see cref="ParticipantServiceCollectionExtensions"/>).</summary>
public sealed class ParticipantResourceManagers(IEnumerable<ParticipantRegistration> registrations, IServiceProvider services)
{
    private readonly Dictionary<string, ParticipantRegistration> _byName = registrations.ToDictionary(r => r.Name, StringComparer.Ordinal);

    /// <summary>The participants this app runs, with the kinds each takes.</summary>
    public IEnumerable<ParticipantRegistration> Registrations => _byName.Values;

    /// <summary>The resource manager of <paramref name="participant"/>, or null when this app does not run it.</summary>
    public IResourceManager? Find(string participant) =>
        _byName.TryGetValue(participant, out var registration) ? registration.ResourceManager(services) : null;

    /// <summary>The resource manager of <paramref name="participant"/>; throws when this app does not run it (a configuration error).</summary>
    public IResourceManager Get(string participant) => Find(participant)
        ?? throw new InvalidOperationException($"participant '{participant}' is not run by this app");

    /// <summary>Every resource manager this app runs, created on first use.</summary>
    public IEnumerable<(string Name, IResourceManager ResourceManager)> All() => _byName.Values.Select(r => (r.Name, r.ResourceManager(services)));
}
