using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Serverless.Core.Messaging;

/// <summary>
/// Encodes protocol messages as JSON signed with HMAC-SHA256, so that a participant acts only on commands that really
/// come from the coordinator. There is no unsigned mode: a codec needs a key, and decoding refuses any message that is
/// not signed with one of the keys it accepts.
/// </summary>
/// <remarks>
/// <para>Wire form: <c>{"body":{...},"kid":"16 hex digits","sig":"base64"}</c>. The signature covers the exact UTF-8 text
/// of <c>body</c>, which holds every field a receiver acts on: kind, transaction id, branch, participant, operation (and
/// the rest), so a signed command cannot be re-targeted to another transaction, branch or participant without breaking
/// it. <c>kid</c> names the key that signed it (<see cref="KeyId"/>, derived from the key, so there is nothing more to
/// configure): a receiver checks with that key only, and can say that a message was signed with a key it no longer
/// accepts. A changed <c>kid</c> only makes the check use another key, which fails.</para>
/// <para>Rotation: messages are signed with the current key; <c>previousKeys</c> are still accepted, so that messages
/// already in flight when the current key changes remain valid until the old key is retired.</para>
/// <para>Decoding never throws for bad input: a malformed, truncated, unsigned, forged or unknown-version message is
/// reported as an error and must never be acted on.</para>
/// </remarks>
public sealed class MessageCodec
{
    /// <summary>Largest accepted encoded message, in characters (a queue message holds 64 KiB).</summary>
    public const int MaxMessageLength = 64 * 1024;

    /// <summary>The shortest accepted signing key, in bytes: HMAC-SHA256's own output length.</summary>
    public const int MinimumKeyLength = 32;

    // No property twice: readers disagree on which one counts, and Encode never writes one twice.
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };
    private readonly byte[] _key;
    private readonly Dictionary<string, byte[]> _accepted = new(StringComparer.Ordinal);

    /// <param name="signingKey">The current key: signs every message, and is accepted. At least <see cref="MinimumKeyLength"/> bytes.</param>
    /// <param name="previousKeys">Older keys still accepted (not used to sign), for rotation without downtime.</param>
    /// <exception cref="ArgumentException">A key is shorter than <see cref="MinimumKeyLength"/> bytes.</exception>
    public MessageCodec(byte[] signingKey, IEnumerable<byte[]>? previousKeys = null)
    {
        ArgumentNullException.ThrowIfNull(signingKey);
        _key = Checked(signingKey, nameof(signingKey));
        KeyId = KeyIdOf(_key);
        _accepted[KeyId] = _key;
        foreach (var previous in previousKeys ?? [])
        {
            ArgumentNullException.ThrowIfNull(previous, nameof(previousKeys));
            var key = Checked(previous, nameof(previousKeys));
            _accepted.TryAdd(KeyIdOf(key), key);
        }
    }

    /// <summary>The id of the current key, written as <c>kid</c> on every message this codec encodes.</summary>
    public string KeyId { get; }

    /// <summary>The ids of every key this codec accepts: the current one and the previous ones.</summary>
    public IReadOnlyCollection<string> AcceptedKeyIds => _accepted.Keys;

    /// <summary>
    /// A key's id: the first 8 bytes of HMAC-SHA256(key, "kid"), as 16 lower-case hex digits. It names the key without
    /// revealing anything about it, and is the same wherever the same key is configured.
    /// </summary>
    public static string KeyIdOf(ReadOnlySpan<byte> key) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(key, "kid"u8)[..8]);

    private static byte[] Checked(byte[] key, string parameter) => key.Length >= MinimumKeyLength
        ? [.. key]
        : throw new ArgumentException($"a signing key must be at least {MinimumKeyLength} bytes; this one has {key.Length}", parameter);

    public string Encode(ProtocolMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var body = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(body))
        {
            MessageBody.Write(writer, message);
        }

        var output = new ArrayBufferWriter<byte>(body.WrittenCount + 80);
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("body");
            writer.WriteRawValue(body.WrittenSpan, skipInputValidation: true);
            // Raw: hex and base64 need no escaping, and the default encoder would escape base64's '+' (a length that varies).
            writer.WritePropertyName("kid");
            writer.WriteRawValue($"\"{KeyId}\"", skipInputValidation: true);
            writer.WritePropertyName("sig");
            writer.WriteRawValue($"\"{Convert.ToBase64String(HMACSHA256.HashData(_key, body.WrittenSpan))}\"", skipInputValidation: true);

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>Decodes and verifies <paramref name="text"/>; on failure <paramref name="error"/> says why.</summary>
    public bool TryDecode(string? text, out ProtocolMessage? message, out string? error)
    {
        message = null;
        if (string.IsNullOrEmpty(text) || text.Length > MaxMessageLength)
        {
            error = "empty or oversized message";
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(text, DocumentOptions);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("body", out var body) || body.ValueKind != JsonValueKind.Object)
            {
                error = "not a protocol message (no body object)";
                return false;
            }

            error = SignatureError(root, body);
            if (error is not null)
            {
                return false;
            }

            return MessageBody.TryRead(body, out message, out error);
        }
        catch (JsonException ex)
        {
            error = $"malformed JSON: {ex.Message}";
            return false;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            // Text that is not valid Unicode: a raw lone surrogate (ArgumentException on parsing) or an escaped one
            // (InvalidOperationException when a string is read). It cannot be ours, whatever it claims.
            error = $"not valid Unicode: {ex.Message}";
            return false;
        }
    }

    private string? SignatureError(JsonElement root, JsonElement body)
    {
        if (!root.TryGetProperty("sig", out var sig))
        {
            return "unsigned message (no signature)";
        }

        if (!root.TryGetProperty("kid", out var kid) || kid.ValueKind != JsonValueKind.String)
        {
            return "missing key id (kid)";
        }

        if (!_accepted.TryGetValue(kid.GetString()!, out var key))
        {
            var shown = kid.GetString()!;
            shown = shown.Length <= 16 && shown.All(char.IsAsciiHexDigitLower) ? shown : "(not a key id)";
            return $"signed with a key that is not accepted here (kid {shown}): a retired key, or one never configured";
        }

        Span<byte> given = stackalloc byte[32];
        if (sig.ValueKind != JsonValueKind.String || !Convert.TryFromBase64String(sig.GetString()!, given, out var written) || written != 32)
        {
            return "invalid signature";
        }

        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(body.GetRawText()));
        return CryptographicOperations.FixedTimeEquals(expected, given) ? null : "invalid signature";
    }
}
