namespace Serverless.LocalHost.Apps;

/// <summary>
/// What the host adds for an app beyond serving its functions. <see cref="None"/> for an app the host knows nothing about:
/// its functions, its services, the API key from <c>TRANSACTIONS_API_KEY</c>, and nothing else.
/// </summary>
public sealed record AppExtras
{
    /// <summary>An app's extras when the host knows nothing about it.</summary>
    public static AppExtras None { get; } = new();

    /// <summary>Settings below every other source (binding expressions the app may leave unset).</summary>
    public IReadOnlyDictionary<string, string> SettingDefaults { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The task hub when neither host.json nor a setting names one: Durable Functions' local default for an app the host
    /// knows nothing about.
    /// </summary>
    public string DefaultTaskHub { get; init; } = "TestHubName";

    /// <summary>Registers services after the app's own (so it may use them).</summary>
    public Action<IServiceCollection, IConfiguration> AddServices { get; init; } = (_, _) => { };

    /// <summary>
    /// The key required on the app's non-anonymous routes, or null for none: the setting <c>TRANSACTIONS_API_KEY</c>, as this
    /// host checks it instead of Functions' own keys.
    /// </summary>
    public Func<IServiceProvider, IConfiguration, string?> ApiKey { get; init; } =
        (_, configuration) => configuration["TRANSACTIONS_API_KEY"] is { Length: > 0 } key ? key : null;

    /// <summary>Wires the built host beyond the app's HTTP functions (more endpoints, queue wake-ups), given the API key.</summary>
    public Action<WebApplication, string?> Configure { get; init; } = (_, _) => { };
}
