using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Hosting;

namespace Serverless.Functions.Participants;

/// <summary>
/// A participant this app runs: its name (its inbox is <c>tx-participant-{name}</c>), how to get its resource manager, and
/// the branch kinds it takes (TCC where its prepare is a visible reservation, a Try).
/// </summary>
public sealed record ParticipantRegistration(string Name, Func<IServiceProvider, IResourceManager> ResourceManager, IReadOnlyList<BranchKind> Kinds);

/// <summary>A saga participant this app calls (an external service): its name and its client.</summary>
public sealed record SagaParticipantRegistration(string Name, Func<IServiceProvider, ISagaParticipant> Participant);

/// <summary>
/// The participants this app runs, by name, each registered once by its module (<see cref="ParticipantServiceCollectionExtensions.AddParticipant"/>),
/// and the saga participants it calls (<see cref="ParticipantServiceCollectionExtensions.AddSagaParticipant"/>).
/// </summary>
public sealed class ParticipantRegistry(
    IEnumerable<ParticipantRegistration> registrations, IEnumerable<SagaParticipantRegistration> sagas, TransactionsSettings settings, IServiceProvider services)
{
    /// <summary>The kinds a participant of <c>TRANSACTIONS_PARTICIPANTS</c> that another app runs may take: the coordinator sends both the same commands.</summary>
    private static readonly IReadOnlyList<BranchKind> PreparedKinds = [BranchKind.TwoPhase, BranchKind.Tcc];

    private readonly Dictionary<string, ParticipantRegistration> _byName = registrations.ToDictionary(r => r.Name, StringComparer.Ordinal);
    private readonly Dictionary<string, SagaParticipantRegistration> _sagas = sagas.ToDictionary(r => r.Name, StringComparer.Ordinal);

    public IEnumerable<string> Names => _byName.Keys;

    /// <summary>
    /// Every participant a transaction may name, with the branch kinds it takes: those of <c>TRANSACTIONS_PARTICIPANTS</c>
    /// (as their module declares, or 2PC and TCC for one another app runs), and the saga participants (saga only).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<BranchKind>> Kinds { get; } = settings.Participants
        .Select(name => (name, kinds: registrations.FirstOrDefault(r => r.Name == name)?.Kinds ?? PreparedKinds))
        .Concat(sagas.Select(s => (name: s.Name, kinds: (IReadOnlyList<BranchKind>)[BranchKind.Saga])))
        .DistinctBy(p => p.name)
        .ToDictionary(p => p.name, p => p.kinds, StringComparer.Ordinal);

    /// <summary>The saga participant <paramref name="participant"/>; throws when this app does not call it (a configuration error).</summary>
    public ISagaParticipant Saga(string participant) => _sagas.TryGetValue(participant, out var registration)
        ? registration.Participant(services)
        : throw new InvalidOperationException($"saga participant '{participant}' is not configured in this app; see the README's configuration section");

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
    /// <summary>
    /// Registers the resource manager <typeparamref name="T"/> (a singleton created by <paramref name="create"/>) as participant
    /// <paramref name="name"/>, taking branches of <paramref name="kinds"/> (2PC when none are named).
    /// </summary>
    public static IServiceCollection AddParticipant<T>(this IServiceCollection services, string name, Func<IServiceProvider, T> create, params BranchKind[] kinds)
        where T : class, IResourceManager
    {
        services.AddSingleton(create);
        services.AddSingleton(new ParticipantRegistration(name, sp => sp.GetRequiredService<T>(), kinds.Length == 0 ? [BranchKind.TwoPhase] : kinds));
        return services;
    }

    /// <summary>Registers the saga participant <typeparamref name="T"/> (a singleton created by <paramref name="create"/>) as participant <paramref name="name"/>.</summary>
    public static IServiceCollection AddSagaParticipant<T>(this IServiceCollection services, string name, Func<IServiceProvider, T> create)
        where T : class, ISagaParticipant
    {
        services.AddSingleton(create);
        services.AddSingleton(new SagaParticipantRegistration(name, sp => sp.GetRequiredService<T>()));
        return services;
    }
}
