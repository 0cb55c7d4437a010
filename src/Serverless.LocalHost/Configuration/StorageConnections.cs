namespace Serverless.LocalHost.Configuration;

/// <summary>
/// A binding's storage <c>Connection</c> as Functions resolves it. None (or <c>AzureWebJobsStorage</c>) is the app's own
/// account: the setting <c>AzureWebJobsStorage</c>, Azurite's when unset. A name is the setting <c>AzureWebJobs{name}</c>,
/// else <c>{name}</c>, holding a connection string: an app reads another app's queues that way (an outside participant its
/// inbox in the coordinator's account). Identity-based forms (<c>{name}__queueServiceUri</c>, <c>__accountName</c>, …) are
/// for Azure and refused here.
/// </summary>
public static class StorageConnections
{
    /// <summary>The app's own storage connection, used when a binding names none.</summary>
    public const string Default = "AzureWebJobsStorage";

    /// <summary>The connection string of <paramref name="connection"/> (null or empty: <see cref="Default"/>).</summary>
    /// <param name="configuration">The app's settings.</param>
    /// <param name="connection">The binding's <c>Connection</c>.</param>
    /// <param name="function">The function whose binding it is, for messages; null for the host's own use (the task hub).</param>
    /// <exception cref="InvalidOperationException">A named connection's setting is not set; the message names it and the function.</exception>
    /// <exception cref="NotSupportedException">The connection is identity-based.</exception>
    public static string ConnectionString(IConfiguration configuration, string? connection, string? function = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (string.IsNullOrEmpty(connection) || string.Equals(connection, Default, StringComparison.OrdinalIgnoreCase))
        {
            return Find(configuration, Default) switch
            {
                (string value, _) => value,
                (_, string identity) => throw new NotSupportedException(
                    $"The local host needs {Default} as a connection string (Azurite's, by default); identity-based storage ({identity}) is for Azure."),
                _ => "UseDevelopmentStorage=true",
            };
        }

        var user = function is null ? $"The storage connection '{connection}'" : $"Function '{function}' uses the storage connection '{connection}'";
        var found = Find(configuration, $"AzureWebJobs{connection}");
        if (found is (null, null))
        {
            found = Find(configuration, connection);
        }

        return found switch
        {
            (string value, _) => value,
            (_, string identity) => throw new NotSupportedException(
                $"{user}, but {connection} is set as an identity-based connection ({identity}), which is for Azure: the local host needs the setting {connection} to hold a connection string (Azurite's locally: UseDevelopmentStorage=true)."),
            _ => throw new InvalidOperationException(
                $"{user}, but the setting {connection} is not set: set it (local.settings.json Values, or the environment) to that storage account's connection string (Azurite's locally: UseDevelopmentStorage=true)."),
        };
    }

    /// <summary>The setting's value, else the name of its first identity-based part (<c>{name}__…</c>); both null when neither is set.</summary>
    private static (string? Value, string? Identity) Find(IConfiguration configuration, string name)
    {
        var section = configuration.GetSection(name);
        if (!string.IsNullOrWhiteSpace(section.Value))
        {
            return (section.Value, null);
        }

        var part = section.GetChildren().FirstOrDefault(c => !string.IsNullOrWhiteSpace(c.Value));
        return (null, part?.Path.Replace(":", "__", StringComparison.Ordinal));
    }
}
