using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Serverless.Core.Messaging;

namespace Serverless.Core.Tests.Messaging;

/// <summary>The signing key of the codec tests, and envelopes signed by hand for bodies no codec would write.</summary>
internal static class TestKeys
{
    public static readonly byte[] Key = Encoding.UTF8.GetBytes("a shared secret of the coordinator");

    public static readonly byte[] OtherKey = Encoding.UTF8.GetBytes("another shared secret, 32+ bytes long");

    public static readonly MessageCodec Codec = new(Key);

    /// <summary>A message whose body is exactly <paramref name="body"/>, correctly signed with <paramref name="key"/> (default <see cref="Key"/>).</summary>
    public static string Sign(string body, byte[]? key = null)
    {
        key ??= Key;
        var sig = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(body)));
        return $"{{\"body\":{body},\"kid\":\"{MessageCodec.KeyIdOf(key)}\",\"sig\":\"{sig}\"}}";
    }

    /// <summary>The message <paramref name="root"/> with its (edited) body signed again with <see cref="Key"/>.</summary>
    public static string Resign(JsonNode root) => Sign(root["body"]!.ToJsonString());
}
