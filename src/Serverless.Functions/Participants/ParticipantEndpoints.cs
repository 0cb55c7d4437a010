using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.ParticipantKit;

namespace Serverless.Functions.Participants;

/// <summary>
/// A participant a transaction may name that is not run inside this app, as settings describe it: reached through its inbox
/// queue (another app's queue function, the participant kit), or over HTTP at <paramref name="Url"/> (docs/participants.md).
/// </summary>
/// <param name="Name">The participant's name.</param>
/// <param name="Kinds">The branch kinds it takes: <c>PARTICIPANT_{NAME}_KINDS</c> (<c>2pc</c>, <c>tcc</c>), default both.</param>
/// <param name="Url">Where its commands are posted (<c>PARTICIPANT_{NAME}_URL</c>); null: its inbox queue.</param>
public sealed record ParticipantEndpoint(string Name, IReadOnlyList<BranchKind> Kinds, Uri? Url);

/// <summary>The participants settings name: those of <c>TRANSACTIONS_PARTICIPANTS</c>, and every one with a <c>PARTICIPANT_{NAME}_URL</c>.</summary>
public static partial class ParticipantEndpoints
{
    /// <summary>What a participant run elsewhere takes unless its settings say otherwise: the coordinator sends both kinds the same commands.</summary>
    public static IReadOnlyList<BranchKind> DefaultKinds { get; } = [BranchKind.TwoPhase, BranchKind.Tcc];

    /// <summary>Every participant <paramref name="configuration"/> names, with its kinds and URL; also checks each configured key.</summary>
    /// <exception cref="InvalidOperationException">A setting is invalid; the message names it.</exception>
    public static IReadOnlyList<ParticipantEndpoint> From(IConfiguration configuration, IReadOnlyList<string> participants)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(participants);
        var withUrl = configuration.AsEnumerable()
            .Select(setting => UrlSetting().Match(setting.Key))
            .Where(match => match.Success)
            .Select(match => match.Groups[1].Value.ToLowerInvariant().Replace('_', '-'));
        return [.. participants.Concat(withUrl).Distinct(StringComparer.Ordinal).Select(name => Read(configuration, name))];
    }

    private static ParticipantEndpoint Read(IConfiguration configuration, string name)
    {
        if (!Identifiers.IsValidParticipantName(name))
        {
            throw new InvalidOperationException($"'{name}' (from {ParticipantSettings.Name(name, "URL")}) is not a valid participant name (lower-case letters, digits, inner hyphens; at most 40).");
        }

        // Checked now, so that a key too short stops the app at start rather than the first command to that participant.
        ParticipantSettings.Keys(configuration, name);
        return new ParticipantEndpoint(name, Kinds(configuration, name), Url(configuration, name));
    }

    private static List<BranchKind> Kinds(IConfiguration configuration, string name)
    {
        var setting = ParticipantSettings.Name(name, "KINDS");
        if (string.IsNullOrWhiteSpace(configuration[setting]))
        {
            return [.. DefaultKinds];
        }

        var kinds = configuration[setting]!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(text => BranchKindExtensions.FromApiName(text) is { } kind and not BranchKind.Saga
                ? kind
                : throw new InvalidOperationException($"{setting}: '{text}' is not a kind a participant run elsewhere takes; use 2pc, tcc or both (comma-separated)."))
            .Distinct()
            .ToList();
        return kinds.Count > 0 ? kinds : throw new InvalidOperationException($"{setting} names no kind; use 2pc, tcc or both.");
    }

    private static Uri? Url(IConfiguration configuration, string name)
    {
        var setting = ParticipantSettings.Name(name, "URL");
        return configuration[setting] switch
        {
            null or "" => null,
            var text when Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url) && url.Scheme is "http" or "https" => url,
            var text => throw new InvalidOperationException($"{setting}: '{text}' is not an absolute http or https URL."),
        };
    }

    [GeneratedRegex("^PARTICIPANT_([A-Z0-9_]+)_URL$", RegexOptions.CultureInvariant)]
    private static partial Regex UrlSetting();
}
