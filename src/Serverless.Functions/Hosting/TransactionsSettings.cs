using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Serverless.Core.Messaging;

namespace Serverless.Functions.Hosting;

/// <summary>The app's settings, read from local.settings.json <c>Values</c> and the environment (Functions' app settings).</summary>
public sealed record TransactionsSettings
{
    /// <summary>Built-in sample participants this host can run.</summary>
    public static readonly IReadOnlySet<string> SampleParticipants = new HashSet<string>(StringComparer.Ordinal) { "bank", "inventory", "orders" };

    /// <summary><c>AzureWebJobsStorage</c>: a storage connection string (default: Azurite's well-known one).</summary>
    public string? StorageConnectionString { get; init; }

    /// <summary><c>AzureWebJobsStorage__accountName</c>: identity-based access instead of a connection string.</summary>
    public string? StorageAccountName { get; init; }

    /// <summary><c>AzureWebJobsStorage__clientId</c>: the user-assigned managed identity to use.</summary>
    public string? StorageClientId { get; init; }

    /// <summary><c>TRANSACTIONS_API_KEY</c>: when set, required on every route but health. Default: none.</summary>
    public string? ApiKey { get; init; }

    /// <summary><c>TRANSACTIONS_SIGNING_KEY</c>: HMAC key for protocol messages. Default: none (unsigned).</summary>
    public string? SigningKey { get; init; }

    /// <summary><c>TRANSACTIONS_PARTICIPANTS</c>: the participants a transaction may name. Default "bank,inventory,orders".</summary>
    public IReadOnlyList<string> Participants { get; init; } = ["bank", "inventory", "orders"];

    /// <summary><c>TRANSACTIONS_HOSTED_PARTICIPANTS</c>: which known participants this process runs. Default: every known sample participant.</summary>
    public IReadOnlyList<string>? HostedParticipants { get; init; }

    /// <summary><c>TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS</c>: the vote deadline when a request gives none. Default 30.</summary>
    public int DefaultTimeoutSeconds { get; init; } = 30;

    /// <summary><c>TRANSACTIONS_STORAGE_PREFIX</c>: prefix of every queue and table name. Default empty.</summary>
    public string StoragePrefix { get; init; } = string.Empty;

    /// <summary><c>ORDERS_POSTGRES_CONNECTION</c>: the orders participant's database (Npgsql form).</summary>
    public string? OrdersConnectionString { get; init; }

    /// <summary><c>TRANSACTIONS_PHASE2_RETRY_SECONDS</c>: first phase-2 retry delay. Default 10.</summary>
    public double Phase2RetrySeconds { get; init; } = 10;

    /// <summary>
    /// <c>TRANSACTIONS_MESSAGE_LEASE_SECONDS</c>: how long a received message stays invisible while it is handled, so
    /// also how soon a message held by a crashed process is delivered again. Default: none (host.json's, else 30 s).
    /// </summary>
    public int? MessageLeaseSeconds { get; init; }

    /// <summary>
    /// <c>TRANSACTIONS_IN_DOUBT_SECONDS</c>: how long a participant holds a prepared branch without a decision before it
    /// asks the coordinator (which re-sends the decision, or rollback when it knows no such transaction: presumed abort).
    /// The hosted Table-storage participants check at this period, so a branch is asked about between one and two
    /// periods after its prepare. Default 60.
    /// </summary>
    public int InDoubtSeconds { get; init; } = 60;

    /// <summary>
    /// <c>TRANSACTIONS_REQUEST_TIMEOUT_SECONDS</c>: how long an API request may wait on storage before it is answered 503
    /// (a start's <c>waitSeconds</c> comes on top). Storage that is down fails faster; this bounds storage that hangs. Default 30.
    /// </summary>
    public int RequestTimeoutSeconds { get; init; } = 30;

    public byte[]? SigningKeyBytes => string.IsNullOrEmpty(SigningKey) ? null : Encoding.UTF8.GetBytes(SigningKey);

    /// <summary>The participants whose resource managers run in this process.</summary>
    public IReadOnlyList<string> Hosted =>
        [.. (HostedParticipants ?? Participants).Where(p => Participants.Contains(p) && SampleParticipants.Contains(p)
            && (p != "orders" || !string.IsNullOrWhiteSpace(OrdersConnectionString)))];

    public static TransactionsSettings From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var participants = List(configuration["TRANSACTIONS_PARTICIPANTS"]) ?? ["bank", "inventory", "orders"];
        foreach (var p in participants)
        {
            if (!Identifiers.IsValidParticipantName(p))
            {
                throw new InvalidOperationException($"TRANSACTIONS_PARTICIPANTS: '{p}' is not a valid participant name (lower-case letters, digits, inner hyphens; at most 40).");
            }
        }

        return new TransactionsSettings
        {
            StorageConnectionString = NullIfEmpty(configuration["AzureWebJobsStorage"]),
            StorageAccountName = NullIfEmpty(configuration["AzureWebJobsStorage:accountName"]),
            StorageClientId = NullIfEmpty(configuration["AzureWebJobsStorage:clientId"]),
            ApiKey = NullIfEmpty(configuration["TRANSACTIONS_API_KEY"]),
            SigningKey = NullIfEmpty(configuration["TRANSACTIONS_SIGNING_KEY"]),
            Participants = participants,
            HostedParticipants = List(configuration["TRANSACTIONS_HOSTED_PARTICIPANTS"]),
            DefaultTimeoutSeconds = Int(configuration, "TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS", 30, 1, 3600),
            StoragePrefix = configuration["TRANSACTIONS_STORAGE_PREFIX"] ?? string.Empty,
            OrdersConnectionString = NullIfEmpty(configuration["ORDERS_POSTGRES_CONNECTION"]),
            Phase2RetrySeconds = Int(configuration, "TRANSACTIONS_PHASE2_RETRY_SECONDS", 10, 1, 3600),
            InDoubtSeconds = Int(configuration, "TRANSACTIONS_IN_DOUBT_SECONDS", 60, 1, 86400),
            RequestTimeoutSeconds = Int(configuration, "TRANSACTIONS_REQUEST_TIMEOUT_SECONDS", 30, 1, 600),
            MessageLeaseSeconds = NullIfEmpty(configuration["TRANSACTIONS_MESSAGE_LEASE_SECONDS"]) is null
                ? null
                : Int(configuration, "TRANSACTIONS_MESSAGE_LEASE_SECONDS", 30, 1, 600),
        };
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static List<string>? List(string? value) => NullIfEmpty(value) is { } v
        ? [.. v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal)]
        : null;

    private static int Int(IConfiguration configuration, string key, int fallback, int min, int max)
    {
        var text = NullIfEmpty(configuration[key]);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new InvalidOperationException($"{key} must be a whole number from {min} to {max}; it is '{text}'.");
        }

        return value;
    }
}
