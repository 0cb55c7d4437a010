using System.Security.Cryptography;

namespace Serverless.Testing;

/// <summary>Names that keep tests from seeing each other's queues and tables.</summary>
public static class TestNames
{
    private const int Length = 8;
    private const string Letters = "abcdefghijklmnopqrstuvwxyz";
    private const string LettersAndDigits = "abcdefghijklmnopqrstuvwxyz0123456789";
    private static readonly HashSet<string> HandedOut = [];
    private static readonly Lock Gate = new();

    /// <summary>
    /// Returns a prefix of 8 lowercase letters and digits that starts with a letter, unique within
    /// this process (and, being random, across processes for all practical purposes).
    /// </summary>
    /// <remarks>
    /// Valid as the start of both a queue name (lowercase, digits, hyphens) and a table name
    /// (alphanumeric, starting with a letter); both need at least 3 and at most 63 characters.
    /// </remarks>
    public static string UniquePrefix()
    {
        while (true)
        {
            var prefix = string.Create(Length, 0, static (span, _) =>
            {
                span[0] = Letters[RandomNumberGenerator.GetInt32(Letters.Length)];
                for (var i = 1; i < span.Length; i++)
                {
                    span[i] = LettersAndDigits[RandomNumberGenerator.GetInt32(LettersAndDigits.Length)];
                }
            });

            lock (Gate)
            {
                if (HandedOut.Add(prefix))
                {
                    return prefix;
                }
            }
        }
    }
}
