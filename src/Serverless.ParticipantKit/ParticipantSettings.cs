using System.Globalization;
using System.Text;
using Azure.Core;
using Azure.Identity;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Serverless.Core.Messaging;

namespace Serverless.ParticipantKit;

/// <summary>What the kit takes from settings: in-doubt timing.</summary>
public sealed record ParticipantKitOptions
{
    /// <summary>
    /// <c>TRANSACTIONS_IN_DOUBT_SECONDS</c>: how long a branch stays prepared without a decision before it is asked about. Default 60 s.
    /// </summary>
    public TimeSpan InDoubtAfter { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The settings of a participant, named as in the coordinator's app and the participant's alike: <c>PARTICIPANT_{NAME}_…</c>,
/// NAME the participant's name upper-cased with <c>-</c> as <c>_</c> (docs/participants.md).
/// </summary>
public static class ParticipantSettings
{
    /// <summary>The connection a participant app reaches the coordinator's storage account (the protocol's queues) by.</summary>
    public const string CoordinatorStorage = "COORDINATOR_STORAGE";

    /// <summary><c>PARTICIPANT_{NAME}_{suffix}</c>: <c>PARTICIPANT_SHIPPING_SIGNING_KEY</c>.</summary>
    public static string Name(string participant, string suffix)
    {
        ArgumentException.ThrowIfNullOrEmpty(participant);
        return $"PARTICIPANT_{participant.ToUpperInvariant().Replace('-', '_')}_{suffix}";
    }

    /// <summary>
    /// The participant's configured keys: <c>PARTICIPANT_{NAME}_SIGNING_KEY</c> and <c>PARTICIPANT_{NAME}_SIGNING_KEYS_PREVIOUS</c>
    /// (comma-separated); null when the first is not set.
    /// </summary>
    /// <exception cref="InvalidOperationException">A key is shorter than <see cref="MessageCodec.MinimumKeyLength"/> bytes (the message never shows it).</exception>
    public static ParticipantKeys? Keys(IConfiguration configuration, string participant)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var keySetting = Name(participant, "SIGNING_KEY");
        var previousSetting = Name(participant, "SIGNING_KEYS_PREVIOUS");
        if (Value(configuration, keySetting) is not { } key)
        {
            return null;
        }

        var previous = Value(configuration, previousSetting)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        foreach (var (text, setting) in previous.Select(k => (k, previousSetting)).Prepend((key, keySetting)))
        {
            var length = Encoding.UTF8.GetByteCount(text);
            if (length < MessageCodec.MinimumKeyLength)
            {
                throw new InvalidOperationException(
                    $"{setting}: a key is {length} bytes, at least {MessageCodec.MinimumKeyLength} are required (docs/participants.md, 'One key per participant').");
            }
        }

        return new ParticipantKeys(key, previous);
    }

    /// <summary>Like <see cref="Keys"/>, for a participant that cannot run without its key (one hosted outside the coordinator's app).</summary>
    /// <exception cref="InvalidOperationException">The key is not set, or too short; the message names the setting and where the key comes from.</exception>
    public static ParticipantKeys RequiredKeys(IConfiguration configuration, string participant) => Keys(configuration, participant)
        ?? throw new InvalidOperationException(
            $"{Name(participant, "SIGNING_KEY")} is not set. Participant '{participant}' verifies commands and signs replies with its own key: " +
            $"the coordinator's operator gives it (scripts/participant-key.sh {participant} prints the one derived from the coordinator's key; on Azure it is a Key Vault secret).");

    /// <summary>The kit's options from settings.</summary>
    public static ParticipantKitOptions Options(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        const string setting = "TRANSACTIONS_IN_DOUBT_SECONDS";
        if (Value(configuration, setting) is not { } text)
        {
            return new ParticipantKitOptions();
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 1 and <= 86400
            ? new ParticipantKitOptions { InDoubtAfter = TimeSpan.FromSeconds(seconds) }
            : throw new InvalidOperationException($"{setting} must be a whole number from 1 to 86400; it is '{text}'.");
    }

    /// <summary>
    /// The queue service of a Functions connection, as the Functions host reads one: the setting <paramref name="connection"/>
    /// holding a connection string, or <c>{connection}__queueServiceUri</c> (or <c>__accountName</c>) with a managed identity
    /// (<c>__clientId</c> for a user-assigned one). Messages are base64, as queue triggers read them.
    /// </summary>
    /// <exception cref="InvalidOperationException">The connection is not configured; the message names its settings.</exception>
    public static QueueServiceClient QueueService(IConfiguration configuration, string connection)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
        options.Retry.MaxRetries = 3;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(20);
        if (Value(configuration, connection) is { } connectionString)
        {
            return new QueueServiceClient(connectionString, options);
        }

        var section = configuration.GetSection(connection);
        var uri = Value(section, "queueServiceUri") is { } serviceUri ? new Uri(serviceUri)
            : Value(section, "accountName") is { } account ? new Uri($"https://{account}.queue.core.windows.net")
            : throw new InvalidOperationException(
                $"The connection {connection} is not configured: set {connection} to a storage connection string (Azurite's locally), or {connection}__queueServiceUri with a managed identity on Azure.");
        TokenCredential credential = new ManagedIdentityCredential(
            Value(section, "clientId") is { } clientId ? ManagedIdentityId.FromUserAssignedClientId(clientId) : ManagedIdentityId.SystemAssigned);
        return new QueueServiceClient(uri, credential, options);
    }

    private static string? Value(IConfiguration configuration, string key) =>
        string.IsNullOrWhiteSpace(configuration[key]) ? null : configuration[key]!.Trim();
}
