using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Serverless.Core.Messaging;
using Serverless.ParticipantKit;

namespace Serverless.Functions.Settings;

/// <summary>The app's settings: Functions app settings (<c>local.settings.json</c> <c>Values</c> locally), read once at start.</summary>
public sealed record TransactionsSettings
{
    /// <summary>The task hub when neither host.json nor a setting names one.</summary>
    public const string DefaultTaskHub = "TwoPhaseCommit";

    /// <summary>The configuration key that overrides host.json's <c>extensions.durableTask.hubName</c> (Functions' <c>AzureFunctionsJobHost__…</c> rule).</summary>
    public const string TaskHubKey = "AzureFunctionsJobHost:extensions:durableTask:hubName";

    /// <summary>The default of <see cref="HistoryRetention"/>: 3 days.</summary>
    public static readonly TimeSpan DefaultHistoryRetention = TimeSpan.FromDays(3);

    /// <summary><c>AzureWebJobsStorage</c>: a storage connection string (default: Azurite's well-known one).</summary>
    public string? StorageConnectionString { get; init; }

    /// <summary><c>AzureWebJobsStorage__accountName</c>: identity-based access instead of a connection string.</summary>
    public string? StorageAccountName { get; init; }

    /// <summary><c>AzureWebJobsStorage__clientId</c>: the user-assigned managed identity to use.</summary>
    public string? StorageClientId { get; init; }

    /// <summary>
    /// The Durable task hub: <c>AzureFunctionsJobHost__extensions__durableTask__hubName</c>, else host.json's
    /// <c>extensions.durableTask.hubName</c>, else <see cref="DefaultTaskHub"/>. Its decision records live in the table
    /// <c>{hub}Decisions</c>, beside Durable's own <c>{hub}Instances</c> and <c>{hub}History</c>.
    /// </summary>
    public string TaskHub { get; init; } = DefaultTaskHub;

    /// <summary><c>TRANSACTIONS_API_KEY</c>: when set, required on every route but health by the local host. Default: none.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The setting that holds the current signing key.</summary>
    public const string SigningKeyKey = "TRANSACTIONS_SIGNING_KEY";

    /// <summary>The setting that holds the previous signing keys, still accepted during a rotation.</summary>
    public const string PreviousSigningKeysKey = "TRANSACTIONS_SIGNING_KEYS_PREVIOUS";

    /// <summary>
    /// <c>TRANSACTIONS_SIGNING_KEY</c>: the coordinator's key, at least <see cref="MessageCodec.MinimumKeyLength"/> bytes (UTF-8),
    /// the same in every process of the app. Every participant's key derives from it unless configured
    /// (<see cref="CreateKeyring"/>): protocol messages are signed with the key of the participant they are for or from.
    /// Required: there is no unsigned mode, and the app does not start without it.
    /// </summary>
    public string SigningKey { get; init; } = string.Empty;

    /// <summary>
    /// <c>TRANSACTIONS_SIGNING_KEYS_PREVIOUS</c>: comma-separated older keys still accepted (never used to sign), so that
    /// messages in flight survive a rotation (docs/security.md). Default: none.
    /// </summary>
    public IReadOnlyList<string> PreviousSigningKeys { get; init; } = [];

    /// <summary><c>TRANSACTIONS_PARTICIPANTS</c>: the participants a transaction may name. Default "bank,inventory,orders,ledger".</summary>
    public IReadOnlyList<string> Participants { get; init; } = ["bank", "inventory", "orders", "ledger"];

    /// <summary><c>TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS</c>: the vote deadline when a request gives none. Default 30.</summary>
    public int DefaultTimeoutSeconds { get; init; } = 30;

    /// <summary><c>ORDERS_POSTGRES_CONNECTION</c>: the orders participant's database (Npgsql form). Without it the app does not run orders.</summary>
    public string? OrdersConnectionString { get; init; }

    /// <summary><c>LEDGER_MYSQL_CONNECTION</c>: the ledger participant's MySQL database (MySqlConnector form). Without it the app does not run the ledger.</summary>
    public string? LedgerConnectionString { get; init; }

    /// <summary>
    /// <c>PAYMENTS_URL</c>: the payment service the <c>payments</c> saga participant calls (<c>http://127.0.0.1:7072</c>
    /// under ./run.sh). Without it the app has no <c>payments</c> participant.
    /// </summary>
    public Uri? PaymentsUrl { get; init; }

    /// <summary><c>PAYMENTS_TIMEOUT_SECONDS</c>: how long a call to the payment service may take before its outcome counts as unknown (and it is retried). Default 10.</summary>
    public int PaymentsTimeoutSeconds { get; init; } = 10;

    /// <summary>The setting that holds the payment service's key.</summary>
    public const string PaymentsApiKeyKey = "PAYMENTS_API_KEY";

    /// <summary>
    /// <c>PAYMENTS_API_KEY</c>: the payment service's key, sent as <c>Authorization: Bearer</c> on every call (the service
    /// answers 401 without it). Required, at least 32 bytes, when <c>PAYMENTS_URL</c> is set; ./run.sh writes a random one
    /// into local.settings.json and gives the service the same.
    /// </summary>
    public string? PaymentsApiKey { get; init; }

    private static string? PaymentsApiKeyFrom(IConfiguration configuration)
    {
        var key = SettingValues.NullIfEmpty(configuration[PaymentsApiKeyKey]);
        if (SettingValues.NullIfEmpty(configuration["PAYMENTS_URL"]) is null)
        {
            return key;
        }

        // Never the key itself in the message: it is a secret, and this message goes to the log.
        return key is null
            ? throw new InvalidOperationException(
                $"{PaymentsApiKeyKey} is not set, but PAYMENTS_URL is: the payment service answers 401 to a call without its key. Set it to the service's PAYMENTS_API_KEY (./run.sh writes a random one into local.settings.json and starts the service with it), or unset PAYMENTS_URL.")
            : Encoding.UTF8.GetByteCount(key) < 32
                ? throw new InvalidOperationException(
                    $"{PaymentsApiKeyKey} is too short: {Encoding.UTF8.GetByteCount(key)} bytes, at least 32 are required (the payment service refuses a shorter one).")
                : key;
    }

    /// <summary>
    /// <c>TRANSACTIONS_HEURISTIC_AFTER_FAILURES</c>: after how many failures a saga compensation is reported as a heuristic
    /// outcome (status document, dashboard, a Critical log, the <c>transactions.heuristic</c> metric). It is retried still. Default 3.
    /// </summary>
    public int HeuristicAfterFailures { get; init; } = 3;

    /// <summary>
    /// <c>TRANSACTIONS_SAGA_PHASE_SECONDS</c>: how long a transaction's saga actions may take, from the start of the first to
    /// the decision, while its prepared branches hold their reservations or locks; past it the transaction aborts, and every
    /// saga branch is compensated. The vote deadline still applies; the earlier one decides. 1-3600, default 10.
    /// </summary>
    public int SagaPhaseSeconds { get; init; } = 10;

    /// <summary><c>TRANSACTIONS_PHASE2_RETRY_SECONDS</c>: first phase-2 retry delay (a durable timer; doubles up to 5 minutes). Default 10.</summary>
    public double Phase2RetrySeconds { get; init; } = 10;

    /// <summary>
    /// <c>TRANSACTIONS_LOCAL_DELIVERY_LEASE_SECONDS</c>: the coordinator's activities hand the commands of this app's own
    /// participants to them in their process at once, each sent to its inbox hidden for this long first (the lease a queue
    /// receive would take): should this process stop before it handled the command, the queue function gets it when the
    /// lease ends. 0: every command waits for the queue function. Default 30.
    /// </summary>
    public TimeSpan LocalDeliveryLease { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>TRANSACTIONS_IN_DOUBT_SECONDS</c>: how long a participant holds a prepared branch without a decision before in-doubt
    /// resolution asks about it (the <c>ResolveInDoubt</c> timer function, on <c>TRANSACTIONS_IN_DOUBT_SCHEDULE</c>).
    /// Also the grace after the vote deadline past which an undecided transaction is presumed aborted. Default 60.
    /// </summary>
    public int InDoubtSeconds { get; init; } = 60;

    /// <summary>
    /// <c>TRANSACTIONS_REQUEST_TIMEOUT_SECONDS</c>: how long an API request may wait on storage before it is answered 503
    /// (a start's <c>waitSeconds</c> comes on top). Storage that is down fails faster; this bounds storage that hangs. Default 30.
    /// </summary>
    public int RequestTimeoutSeconds { get; init; } = 30;

    /// <summary>
    /// <c>TRANSACTIONS_MAX_ENGINE_LAG_SECONDS</c>: admission control. A start is answered <c>429</c> with <c>Retry-After</c>,
    /// before anything is claimed or scheduled, while the oldest message waiting in the task hub's queues
    /// (<see cref="Storage.EngineLag"/>) is older than this, or older than a quarter of the start's own <c>timeoutSeconds</c>
    /// (but at least 2.5 s, more than host.json's idle polling interval): a transaction admitted then would wait in the
    /// engine for several such lags (its start, its prepares, its votes) and reach its vote deadline before its decision.
    /// Keep it above host.json's <c>maxQueuePollingInterval</c>, which an idle engine may wait before it looks again. 0 turns
    /// admission control off. Default 5.
    /// </summary>
    public int MaxEngineLagSeconds { get; init; } = 5;

    /// <summary>
    /// <c>TRANSACTIONS_HISTORY_RETENTION</c>: how long a finished (Completed) transaction is kept in the task hub, with its
    /// decision record, before the <c>PurgeHistory</c> timer function (on <c>TRANSACTIONS_HISTORY_PURGE_SCHEDULE</c>) purges
    /// it. A time span "d.hh:mm:ss" from <see cref="MinimumHistoryRetention"/> (1:00:30 by default) to 3650 days. Default 3
    /// days. A purged transaction leaves a tombstone, so that its id is never used for another transaction.
    /// </summary>
    public TimeSpan HistoryRetention { get; init; } = DefaultHistoryRetention;

    /// <summary>The setting the <c>PurgeHistory</c> timer function binds as its schedule (6-field NCRONTAB).</summary>
    public const string HistoryPurgeScheduleKey = "TRANSACTIONS_HISTORY_PURGE_SCHEDULE";

    /// <summary>
    /// Settings a function binds as <c>%Setting%</c> that an app may leave out, with the value that holds then: the history
    /// purge schedule (hourly, at minute 17). The local host reads these below every other source. On Azure the Bicep
    /// always sets them; under Core Tools, local.settings.json from the sample does (without it that function is in error).
    /// </summary>
    public static IReadOnlyDictionary<string, string> BindingDefaults { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [HistoryPurgeScheduleKey] = "0 17 * * * *",
    };

    /// <summary>
    /// Every participant's key (docs/participants.md): <c>PARTICIPANT_{NAME}_SIGNING_KEY</c> where <paramref name="configuration"/>
    /// sets one, else derived from <see cref="SigningKey"/> (and the previous participant keys from <see cref="PreviousSigningKeys"/>).
    /// </summary>
    public ParticipantKeyring CreateKeyring(IConfiguration configuration) =>
        ParticipantKeyring.Derived(SigningKey, PreviousSigningKeys, participant => ParticipantSettings.Keys(configuration, participant));

    public static TransactionsSettings From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var participants = SettingValues.List(configuration["TRANSACTIONS_PARTICIPANTS"]) ?? ["bank", "inventory", "orders", "ledger"];
        foreach (var p in participants)
        {
            if (!Identifiers.IsValidParticipantName(p))
            {
                throw new InvalidOperationException($"TRANSACTIONS_PARTICIPANTS: '{p}' is not a valid participant name (lower-case letters, digits, inner hyphens; at most 40).");
            }
        }

        var settings = new TransactionsSettings
        {
            StorageConnectionString = SettingValues.NullIfEmpty(configuration["AzureWebJobsStorage"]),
            StorageAccountName = SettingValues.NullIfEmpty(configuration["AzureWebJobsStorage:accountName"]),
            StorageClientId = SettingValues.NullIfEmpty(configuration["AzureWebJobsStorage:clientId"]),
            TaskHub = TaskHubName(configuration),
            ApiKey = SettingValues.NullIfEmpty(configuration["TRANSACTIONS_API_KEY"]),
            SigningKey = SigningKeyFrom(configuration),
            PreviousSigningKeys = PreviousSigningKeysFrom(configuration),
            Participants = participants,
            DefaultTimeoutSeconds = SettingValues.Int(configuration, "TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS", 30, 1, 3600),
            OrdersConnectionString = SettingValues.NullIfEmpty(configuration["ORDERS_POSTGRES_CONNECTION"]),
            LedgerConnectionString = SettingValues.NullIfEmpty(configuration["LEDGER_MYSQL_CONNECTION"]),
            PaymentsUrl = SettingValues.AbsoluteHttpUrl(configuration, "PAYMENTS_URL"),
            PaymentsTimeoutSeconds = SettingValues.Int(configuration, "PAYMENTS_TIMEOUT_SECONDS", 10, 1, 300),
            PaymentsApiKey = PaymentsApiKeyFrom(configuration),
            HeuristicAfterFailures = SettingValues.Int(configuration, "TRANSACTIONS_HEURISTIC_AFTER_FAILURES", 3, 1, 1000),
            SagaPhaseSeconds = SettingValues.Int(configuration, "TRANSACTIONS_SAGA_PHASE_SECONDS", 10, 1, 3600),
            Phase2RetrySeconds = SettingValues.Int(configuration, "TRANSACTIONS_PHASE2_RETRY_SECONDS", 10, 1, 3600),
            LocalDeliveryLease = TimeSpan.FromSeconds(SettingValues.Int(configuration, "TRANSACTIONS_LOCAL_DELIVERY_LEASE_SECONDS", 30, 0, 600)),
            InDoubtSeconds = SettingValues.Int(configuration, "TRANSACTIONS_IN_DOUBT_SECONDS", 60, 1, 86400),
            RequestTimeoutSeconds = SettingValues.Int(configuration, "TRANSACTIONS_REQUEST_TIMEOUT_SECONDS", 30, 1, 600),
            MaxEngineLagSeconds = SettingValues.Int(configuration, "TRANSACTIONS_MAX_ENGINE_LAG_SECONDS", 5, 0, 3600),
            HistoryRetention = SettingValues.Span(configuration, "TRANSACTIONS_HISTORY_RETENTION", DefaultHistoryRetention, TimeSpan.FromSeconds(1), TimeSpan.FromDays(3650)),
        };
        return settings.HistoryRetention >= settings.MinimumHistoryRetention
            ? settings
            : throw new InvalidOperationException(
                $"TRANSACTIONS_HISTORY_RETENTION is {settings.HistoryRetention:c}, shorter than the longest vote deadline a transaction may ask for " +
                $"({Identifiers.MaxTimeoutSeconds} s) plus TRANSACTIONS_LOCAL_DELIVERY_LEASE_SECONDS ({settings.LocalDeliveryLease.TotalSeconds:0} s): a prepare " +
                $"delivered late could then reach its participant after its transaction was purged. Set it to at least {settings.MinimumHistoryRetention:c}.");
    }

    /// <summary>
    /// The shortest <see cref="HistoryRetention"/> this app accepts: the longest vote deadline a request may ask for plus
    /// <see cref="LocalDeliveryLease"/>, so that no command of a transaction can still be on its way when it is purged.
    /// </summary>
    public TimeSpan MinimumHistoryRetention => TimeSpan.FromSeconds(Identifiers.MaxTimeoutSeconds) + LocalDeliveryLease;

    /// <summary>
    /// The task hub's name as the Functions host resolves it: the <c>AzureFunctionsJobHost__…</c> override, else
    /// host.json beside the app (a <c>%Setting%</c> value is resolved from settings), else the default.
    /// </summary>
    public static string TaskHubName(IConfiguration configuration, string? appDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var name = SettingValues.NullIfEmpty(configuration[TaskHubKey]) ?? HostJsonHubName(appDirectory ?? AppContext.BaseDirectory) ?? DefaultTaskHub;
        if (name.Length > 2 && name[0] == '%' && name[^1] == '%')
        {
            name = SettingValues.NullIfEmpty(configuration[name[1..^1]])
                ?? throw new InvalidOperationException($"host.json names the task hub {name}, but the setting {name[1..^1]} is not set.");
        }

        if (name.Length is < 3 or > 45 || !char.IsAsciiLetter(name[0]) || !name.All(char.IsAsciiLetterOrDigit))
        {
            throw new InvalidOperationException($"The task hub name '{name}' is invalid: 3-45 letters and digits, starting with a letter.");
        }

        return name;
    }

    private const string HowToMakeAKey =
        "Generate one with `openssl rand -base64 48` and give every process of the app the same value (./run.sh writes one into local.settings.json; on Azure it comes from Key Vault).";

    private static string SigningKeyFrom(IConfiguration configuration)
    {
        var key = SettingValues.NullIfEmpty(configuration[SigningKeyKey])
            ?? throw new InvalidOperationException(
                $"{SigningKeyKey} is not set. Protocol messages are always signed, so the app does not start without a signing key of at least {MessageCodec.MinimumKeyLength} bytes. {HowToMakeAKey}");
        return Encoding.UTF8.GetByteCount(key) >= MessageCodec.MinimumKeyLength
            ? key
            : throw new InvalidOperationException(
                $"{SigningKeyKey} is too short: {Encoding.UTF8.GetByteCount(key)} bytes, at least {MessageCodec.MinimumKeyLength} are required. {HowToMakeAKey}");
    }

    private static List<string> PreviousSigningKeysFrom(IConfiguration configuration)
    {
        var keys = SettingValues.List(configuration[PreviousSigningKeysKey]) ?? [];
        for (var i = 0; i < keys.Count; i++)
        {
            if (Encoding.UTF8.GetByteCount(keys[i]) < MessageCodec.MinimumKeyLength)
            {
                // Never the key itself in the message: it is a secret, and this message goes to the log.
                throw new InvalidOperationException(
                    $"{PreviousSigningKeysKey}: key {i + 1} of {keys.Count} is too short ({Encoding.UTF8.GetByteCount(keys[i])} bytes, at least {MessageCodec.MinimumKeyLength}). It holds comma-separated keys, each as long as {SigningKeyKey} must be.");
            }
        }

        return keys;
    }

    private static string? HostJsonHubName(string directory)
    {
        var path = Path.Combine(directory, "host.json");
        if (!File.Exists(path))
        {
            return null;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return document.RootElement.TryGetProperty("extensions", out var extensions)
            && extensions.TryGetProperty("durableTask", out var durable)
            && durable.TryGetProperty("hubName", out var hub)
            && hub.ValueKind == JsonValueKind.String
                ? SettingValues.NullIfEmpty(hub.GetString())
                : null;
    }
}
