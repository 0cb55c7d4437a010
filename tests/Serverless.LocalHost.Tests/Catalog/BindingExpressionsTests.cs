using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serverless.LocalHost.Catalog;

namespace Serverless.LocalHost.Tests.Catalog;

public sealed class BindingExpressionsTests
{
    private const string SigningKey = "binding-expressions-tests-signing-key-0123";

    private static readonly IConfiguration Settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/30 * * * * *",
        ["QUEUE_PREFIX"] = "tx",
        ["QUEUE_NAME"] = "  padded  ",
        ["Orders:Queue"] = "orders-inbox",
        ["BLANK"] = "   ",
    }).Build();

    [Theory]
    [InlineData("%TRANSACTIONS_IN_DOUBT_SCHEDULE%", "*/30 * * * * *")]
    [InlineData("%QUEUE_PREFIX%-participant-bank", "tx-participant-bank")]
    [InlineData("%QUEUE_PREFIX%-%QUEUE_PREFIX%", "tx-tx")]
    [InlineData("%QUEUE_NAME%", "padded")]
    [InlineData("%Orders__Queue%", "orders-inbox")]
    [InlineData("tx-coordinator", "tx-coordinator")]
    [InlineData("0 */5 * * * *", "0 */5 * * * *")]
    [InlineData("100%", "100%")]
    public void Resolve_ReplacesEachSettingByItsValue(string expression, string expected)
    {
        Assert.Equal(expected, BindingExpressions.Resolve(expression, Settings, "SomeFunction"));
    }

    [Theory]
    [InlineData("%MISSING%", "MISSING")]
    [InlineData("tx-%MISSING_PREFIX%-bank", "MISSING_PREFIX")]
    [InlineData("%BLANK%", "BLANK")]
    public void Resolve_OfAMissingSetting_FailsNamingTheSettingAndTheFunction(string expression, string setting)
    {
        var error = Assert.Throws<InvalidOperationException>(() => BindingExpressions.Resolve(expression, Settings, "ResolveInDoubt"));

        Assert.Contains("Function 'ResolveInDoubt'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"%{setting}%", error.Message, StringComparison.Ordinal);
        Assert.Contains($"the setting {setting} is not set", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_WithNullArguments_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => BindingExpressions.Resolve(null!, Settings, "F"));
        Assert.Throws<ArgumentNullException>(() => BindingExpressions.Resolve("%A%", null!, "F"));
    }

    [Fact]
    public void Build_OfTheHostWithoutTheInDoubtSchedule_FailsNamingTheSettingAndTheTimerFunction()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LocalFunctionsHost.Build([], new Dictionary<string, string?>
        {
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "",
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
        }));

        // Two timer functions bind it (ResolveInDoubt and FinishEndedTransactions): the first found is named.
        Assert.Matches("Function '(ResolveInDoubt|FinishEndedTransactions)' uses %TRANSACTIONS_IN_DOUBT_SCHEDULE%", error.Message);
    }

    [Fact]
    public void Build_OfTheHostWithoutASigningKey_RefusesToStartNamingTheSetting()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LocalFunctionsHost.Build([], new Dictionary<string, string?>
        {
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/30 * * * * *",
            ["TRANSACTIONS_SIGNING_KEY"] = "",
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
        }));

        Assert.StartsWith("TRANSACTIONS_SIGNING_KEY is not set.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_OfTheHostWithABadInDoubtSchedule_FailsNamingTheSchedule()
    {
        var error = Assert.Throws<FormatException>(() => LocalFunctionsHost.Build([], new Dictionary<string, string?>
        {
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/30 * * * *",
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
        }));

        Assert.Contains("'*/30 * * * *' is not a six-field NCRONTAB schedule", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_OfTheHostWithoutTheHistoryPurgeSchedule_ServesPurgeHistoryHourly_AndASetScheduleWins()
    {
        await using var defaulted = LocalFunctionsHost.Build([], new Dictionary<string, string?>
        {
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/30 * * * * *",
            ["TRANSACTIONS_SIGNING_KEY"] = SigningKey,
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
        });
        await using var configured = LocalFunctionsHost.Build([], new Dictionary<string, string?>
        {
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/30 * * * * *",
            ["TRANSACTIONS_HISTORY_PURGE_SCHEDULE"] = "0 0 3 * * *",
            ["TRANSACTIONS_SIGNING_KEY"] = SigningKey,
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
        });

        Assert.Contains(defaulted.Services.GetRequiredService<IReadOnlyList<LocalFunction>>(), f => f is { Name: "PurgeHistory", Trigger: TriggerKind.Timer });
        Assert.Equal("0 17 * * * *", BindingExpressions.Resolve("%TRANSACTIONS_HISTORY_PURGE_SCHEDULE%", defaulted.Configuration, "PurgeHistory"));
        Assert.Equal("0 0 3 * * *", BindingExpressions.Resolve("%TRANSACTIONS_HISTORY_PURGE_SCHEDULE%", configured.Configuration, "PurgeHistory"));
    }
}
