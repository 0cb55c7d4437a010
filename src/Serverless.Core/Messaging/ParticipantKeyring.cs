using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Serverless.Core.Messaging;

/// <summary>A participant's configured keys: the current one (signs and is accepted) and older ones still accepted.</summary>
/// <param name="Key">The current key, at least <see cref="MessageCodec.MinimumKeyLength"/> bytes of UTF-8.</param>
/// <param name="Previous">Keys still accepted during a rotation, never used to sign.</param>
public sealed record ParticipantKeys(string Key, IReadOnlyList<string> Previous);

/// <summary>
/// One signing key per participant: a participant verifies the commands sent to it and signs its replies with its own key,
/// so that no participant's key signs a command another participant accepts, or a reply the coordinator takes for another
/// participant's branch.
/// </summary>
/// <remarks>
/// <para>The coordinator holds every participant's key (<see cref="Derived"/>): configured per participant, or derived from the
/// coordinator's own key and the participant's name (<see cref="DeriveKey"/>), so that nothing more needs configuring and a
/// participant can be given its key alone. A participant's app holds its own key only (<see cref="Of"/>).</para>
/// <para>Rotation works as for a single key (docs/security.md): the previous coordinator keys derive previous participant keys,
/// still accepted, and a configured participant key has previous keys of its own.</para>
/// </remarks>
public sealed class ParticipantKeyring
{
    /// <summary>What a derived key's HMAC is taken over, before the participant's name.</summary>
    public const string DerivationLabel = "tx-participant:";

    private readonly Func<string, ParticipantKeys?> _keys;
    private readonly ConcurrentDictionary<string, MessageCodec?> _codecs = new(StringComparer.Ordinal);

    private ParticipantKeyring(Func<string, ParticipantKeys?> keys) => _keys = keys;

    /// <summary>
    /// The coordinator's keyring: for each participant its configured keys (<paramref name="configured"/>), or else keys
    /// derived from <paramref name="coordinatorKey"/> and <paramref name="previousCoordinatorKeys"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A key is shorter than <see cref="MessageCodec.MinimumKeyLength"/> bytes (when first used).</exception>
    public static ParticipantKeyring Derived(string coordinatorKey, IEnumerable<string>? previousCoordinatorKeys = null, Func<string, ParticipantKeys?>? configured = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(coordinatorKey);
        var previous = (previousCoordinatorKeys ?? []).ToList();
        return new(participant => configured?.Invoke(participant)
            ?? new ParticipantKeys(DeriveKey(coordinatorKey, participant), [.. previous.Select(k => DeriveKey(k, participant))]));
    }

    /// <summary>A keyring of configured keys only (a participant's app: its own key, and no other participant's); <paramref name="keys"/> answers null for a participant it holds no key of.</summary>
    public static ParticipantKeyring Of(Func<string, ParticipantKeys?> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return new(keys);
    }

    /// <summary>
    /// The key of <paramref name="participant"/> derived from <paramref name="coordinatorKey"/>: base64url without padding of
    /// HMAC-SHA256(UTF-8 of the coordinator key, UTF-8 of <c>"tx-participant:" + participant</c>), 43 characters.
    /// </summary>
    public static string DeriveKey(string coordinatorKey, string participant)
    {
        ArgumentException.ThrowIfNullOrEmpty(coordinatorKey);
        ArgumentException.ThrowIfNullOrEmpty(participant);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(coordinatorKey), Encoding.UTF8.GetBytes(DerivationLabel + participant));
        return Convert.ToBase64String(mac).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>Whether this keyring holds <paramref name="participant"/>'s key.</summary>
    public bool Has(string participant) => Find(participant) is not null;

    /// <summary>The codec of <paramref name="participant"/>'s keys: signs commands to it (or its replies), verifies what it is sent or sends.</summary>
    /// <exception cref="InvalidOperationException">This keyring does not hold that participant's key.</exception>
    public MessageCodec For(string participant) => Find(participant)
        ?? throw new InvalidOperationException($"no signing key for participant '{participant}' here");

    /// <summary>
    /// Decodes a message a participant signed (a vote, an acknowledgement, an inquiry): the participant its body names picks
    /// the key, so a message verifies only with the key of the participant it claims to come from. On failure
    /// <paramref name="error"/> says why; never throws for bad input.
    /// </summary>
    public bool TryDecodeFromParticipant(string? text, out ProtocolMessage? message, out string? error)
    {
        message = null;
        var sender = SenderOf(text, out error);
        if (sender is null)
        {
            return false;
        }

        if (Find(sender) is not { } codec)
        {
            error = $"signed as participant '{sender}', whose key is not held here";
            return false;
        }

        return codec.TryDecode(text, out message, out error);
    }

    private MessageCodec? Find(string participant) =>
        Identifiers.IsValidParticipantName(participant)
            ? _codecs.GetOrAdd(participant, name => _keys(name) is { } keys
                ? new MessageCodec(Encoding.UTF8.GetBytes(keys.Key), keys.Previous.Select(k => Encoding.UTF8.GetBytes(k)))
                : null)
            : null;

    /// <summary>The participant a message's body names, read before anything is verified (only to pick the key).</summary>
    private static string? SenderOf(string? text, out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(text) || text.Length > MessageCodec.MaxMessageLength)
        {
            error = "empty or oversized message";
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("body", out var body) && body.ValueKind == JsonValueKind.Object
                && body.TryGetProperty("participant", out var participant) && participant.ValueKind == JsonValueKind.String
                && Identifiers.IsValidParticipantName(participant.GetString()))
            {
                return participant.GetString();
            }

            error = "names no participant, so no participant's key can verify it";
            return null;
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException)
        {
            error = $"malformed JSON: {ex.Message}";
            return null;
        }
    }
}
