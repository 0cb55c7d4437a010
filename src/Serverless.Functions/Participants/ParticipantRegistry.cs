using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.ParticipantKit;

namespace Serverless.Functions.Participants;

/// <summary>How a participant's commands reach it.</summary>
public enum ParticipantTransport
{
    /// <summary>A participant of this app whose queue function runs here: handled in the activity's process.</summary>
    InApp,

    /// <summary>Its inbox queue, served by another app's queue function (the participant kit), replies through <c>tx-coordinator</c>.</summary>
    Queue,

    /// <summary>An HTTP <c>POST</c> of the signed command to its URL, the signed reply in the answer.</summary>
    Http,
}

/// <summary>A saga participant this app calls (an external service): its name and its client.</summary>
public sealed record SagaParticipantRegistration(string Name, Func<IServiceProvider, ISagaParticipant> Participant);

/// <summary>
/// Every participant a transaction may name and how each is reached: this app's own (registered by their modules through the
/// participant kit), those other apps and services run (<see cref="ParticipantEndpoints"/>), and the saga participants this app
/// calls (<see cref="SagaParticipantServiceCollectionExtensions.AddSagaParticipant"/>).
/// </summary>
public sealed class ParticipantRegistry(
    ParticipantResourceManagers inApp,
    IEnumerable<SagaParticipantRegistration> sagas,
    IReadOnlyList<ParticipantEndpoint> endpoints,
    IConfiguration configuration,
    IServiceProvider services)
{
    private readonly Dictionary<string, SagaParticipantRegistration> _sagas = sagas.ToDictionary(r => r.Name, StringComparer.Ordinal);
    private readonly Dictionary<string, ParticipantEndpoint> _endpoints = endpoints.ToDictionary(e => e.Name, StringComparer.Ordinal);

    /// <summary>
    /// Every participant a transaction may name, with the branch kinds it takes: this app's own as their module declares
    /// (when settings name them), the others as their settings say, and the saga participants (saga only).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<BranchKind>> Kinds { get; } = endpoints
        .Select(e => (e.Name, Kinds: inApp.Registrations.FirstOrDefault(r => r.Name == e.Name)?.Kinds ?? e.Kinds))
        .Concat(sagas.Select(s => (s.Name, Kinds: (IReadOnlyList<BranchKind>)[BranchKind.Saga])))
        .DistinctBy(p => p.Name)
        .ToDictionary(p => p.Name, p => p.Kinds, StringComparer.Ordinal);

    /// <summary>The resource managers of this app's own participants.</summary>
    public ParticipantResourceManagers InApp => inApp;

    /// <summary>
    /// How <paramref name="participant"/>'s commands reach it: in this app when its module is registered and its queue function
    /// (<c>{Name}Participant</c>) is not disabled by <c>AzureWebJobs.{Function}.Disabled</c>; else over HTTP when it has a URL;
    /// else by its inbox queue.
    /// </summary>
    public ParticipantTransport TransportOf(string participant) =>
        IsOwn(participant)
        && !string.Equals(configuration[$"AzureWebJobs.{InboxFunction(participant)}.Disabled"], "true", StringComparison.OrdinalIgnoreCase)
            ? ParticipantTransport.InApp
            : UrlOf(participant) is not null ? ParticipantTransport.Http : ParticipantTransport.Queue;

    /// <summary>
    /// Whether <paramref name="participant"/> is one of this app's own (its module is registered here, wherever its queue function
    /// runs): it shares this app's decision records, so it may be sent a one-phase prepare.
    /// </summary>
    public bool IsOwn(string participant) => inApp.Registrations.Any(r => r.Name == participant);

    /// <summary>The URL of an HTTP participant, or null.</summary>
    public Uri? UrlOf(string participant) => _endpoints.GetValueOrDefault(participant)?.Url;

    /// <summary>The saga participant <paramref name="participant"/>; throws when this app does not call it (a configuration error).</summary>
    public ISagaParticipant Saga(string participant) => _sagas.TryGetValue(participant, out var registration)
        ? registration.Participant(services)
        : throw new InvalidOperationException($"saga participant '{participant}' is not configured in this app; see the README's configuration section");

    /// <summary>The name of <paramref name="participant"/>'s queue function, as every participant module names it: <c>bank</c>, <c>BankParticipant</c>.</summary>
    public static string InboxFunction(string participant) =>
        string.IsNullOrEmpty(participant) ? participant : $"{char.ToUpperInvariant(participant[0])}{participant[1..]}Participant";
}

public static class SagaParticipantServiceCollectionExtensions
{
    /// <summary>Registers the saga participant <typeparamref name="T"/> (a singleton created by <paramref name="create"/>) as participant <paramref name="name"/>.</summary>
    public static IServiceCollection AddSagaParticipant<T>(this IServiceCollection services, string name, Func<IServiceProvider, T> create)
        where T : class, ISagaParticipant
    {
        services.AddSingleton(create);
        services.AddSingleton(new SagaParticipantRegistration(name, sp => sp.GetRequiredService<T>()));
        return services;
    }
}
