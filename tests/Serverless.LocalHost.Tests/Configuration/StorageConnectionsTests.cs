using Microsoft.Extensions.Configuration;
using Serverless.LocalHost.Configuration;

namespace Serverless.LocalHost.Tests.Configuration;

public sealed class StorageConnectionsTests
{
    private const string Azurite = "UseDevelopmentStorage=true";
    private const string Account = "DefaultEndpointsProtocol=http;AccountName=other;AccountKey=a2V5;QueueEndpoint=http://127.0.0.1:10001/other";

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("AzureWebJobsStorage")]
    public void TheDefault_IsAzureWebJobsStorage_AndAzuriteWhenUnset(string? connection)
    {
        Assert.Equal(Account, StorageConnections.ConnectionString(Settings(("AzureWebJobsStorage", Account)), connection, "F"));
        Assert.Equal(Azurite, StorageConnections.ConnectionString(Settings(), connection, "F"));
    }

    [Fact]
    public void TheDefault_IdentityBased_IsRefusedNamingTheSetting()
    {
        var error = Assert.Throws<NotSupportedException>(() =>
            StorageConnections.ConnectionString(Settings(("AzureWebJobsStorage:accountName", "account")), null));

        Assert.Contains("AzureWebJobsStorage as a connection string", error.Message, StringComparison.Ordinal);
        Assert.Contains("AzureWebJobsStorage__accountName", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ANamedConnection_IsTheSettingOfThatName()
    {
        var settings = Settings(("COORDINATOR_STORAGE", Account), ("AzureWebJobsStorage", Azurite));

        Assert.Equal(Account, StorageConnections.ConnectionString(settings, "COORDINATOR_STORAGE", "Inbox"));
    }

    [Fact]
    public void ANamedConnection_PrefixedWithAzureWebJobs_WinsAsInFunctions()
    {
        var settings = Settings(("AzureWebJobsCOORDINATOR_STORAGE", Account), ("COORDINATOR_STORAGE", Azurite));

        Assert.Equal(Account, StorageConnections.ConnectionString(settings, "COORDINATOR_STORAGE", "Inbox"));
    }

    [Fact]
    public void ANamedConnectionNotSet_FailsNamingTheSettingAndTheFunction_WithoutFallingBackToTheDefault()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            StorageConnections.ConnectionString(Settings(("AzureWebJobsStorage", Account)), "COORDINATOR_STORAGE", "Inbox"));

        Assert.StartsWith("Function 'Inbox' uses the storage connection 'COORDINATOR_STORAGE', but the setting COORDINATOR_STORAGE is not set", error.Message, StringComparison.Ordinal);
        Assert.Contains("connection string", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("COORDINATOR_STORAGE:queueServiceUri", "https://account.queue.core.windows.net", "COORDINATOR_STORAGE__queueServiceUri")]
    [InlineData("COORDINATOR_STORAGE:accountName", "account", "COORDINATOR_STORAGE__accountName")]
    [InlineData("AzureWebJobsCOORDINATOR_STORAGE:serviceUri", "https://account.queue.core.windows.net", "AzureWebJobsCOORDINATOR_STORAGE__serviceUri")]
    public void ANamedConnection_IdentityBased_IsRefusedNamingTheSetting(string key, string value, string named)
    {
        var error = Assert.Throws<NotSupportedException>(() =>
            StorageConnections.ConnectionString(Settings((key, value)), "COORDINATOR_STORAGE", "Inbox"));

        Assert.Contains("Function 'Inbox'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"identity-based connection ({named})", error.Message, StringComparison.Ordinal);
        Assert.Contains("for Azure", error.Message, StringComparison.Ordinal);
    }

    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();
}
