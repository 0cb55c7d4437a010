using Microsoft.Extensions.Configuration;
using Serverless.LocalHost.Configuration;

namespace Serverless.LocalHost.Tests.Configuration;

public sealed class FunctionsConfigurationTests
{
    private const string HostJson = """
        {
          // Functions tolerates comments and trailing commas in host.json.
          "version": "2.0",
          "extensions": {
            "queues": { "batchSize": 8, "messageEncoding": "none", },
            "durableTask": { "hubName": "FromHostJson", "extendedSessionsEnabled": true }
          },
          "functions": [ "First", "Second" ]
        }
        """;

    [Fact]
    public void HostJson_AppearsUnderAzureFunctionsJobHostWithItsValuesAsText()
    {
        using var app = new AppSettings(HostJson);

        var configuration = app.Build();

        Assert.Equal("2.0", configuration["AzureFunctionsJobHost:version"]);
        Assert.Equal("8", configuration["AzureFunctionsJobHost:extensions:queues:batchSize"]);
        Assert.Equal("none", configuration["AzureFunctionsJobHost:extensions:queues:messageEncoding"]);
        Assert.Equal("true", configuration["AzureFunctionsJobHost:extensions:durableTask:extendedSessionsEnabled"]);
        Assert.Equal("Second", configuration["AzureFunctionsJobHost:functions:1"]);
        Assert.Null(configuration["extensions:queues:batchSize"]);
    }

    [Fact]
    public void AzureFunctionsJobHostSettingInTheEnvironment_WinsOverHostJson()
    {
        using var app = new AppSettings(HostJson);
        app.Environment("AzureFunctionsJobHost__extensions__queues__batchSize", "4");

        var configuration = app.Build();

        Assert.Equal("4", configuration["AzureFunctionsJobHost:extensions:queues:batchSize"]);
        Assert.Equal("none", configuration["AzureFunctionsJobHost:extensions:queues:messageEncoding"]);
    }

    [Fact]
    public void AzureFunctionsJobHostValueInLocalSettings_WinsOverHostJson()
    {
        using var app = new AppSettings(HostJson, """{ "Values": { "AzureFunctionsJobHost__extensions__durableTask__hubName": "FromLocalSettings" } }""");

        Assert.Equal("FromLocalSettings", app.Build()["AzureFunctionsJobHost:extensions:durableTask:hubName"]);
    }

    [Fact]
    public void LocalSettingsValues_BecomeSettingsWithDoubleUnderscoresAsSections()
    {
        using var app = new AppSettings(localSettings: """
            {
              "IsEncrypted": false,
              "Values": {
                "TRANSACTIONS_PARTICIPANTS": "bank,inventory",
                "AzureWebJobsStorage__accountName": "account",
                "Deeply__Nested__Key": "deep",
                "ANumber": 5,
                "AFlag": true
              },
              "Host": { "LocalHttpPort": 7075 }
            }
            """);

        var configuration = app.Build();

        Assert.Equal("bank,inventory", configuration["TRANSACTIONS_PARTICIPANTS"]);
        Assert.Equal("account", configuration["AzureWebJobsStorage:accountName"]);
        Assert.Equal("deep", configuration.GetSection("Deeply:Nested")["Key"]);
        Assert.Equal("5", configuration["ANumber"]);
        Assert.Equal("true", configuration["AFlag"]);
        Assert.Equal("7075", configuration["Host:LocalHttpPort"]);
        Assert.Null(configuration["IsEncrypted"]);
    }

    [Fact]
    public void TheEnvironment_WinsOverLocalSettings()
    {
        using var app = new AppSettings(localSettings: """{ "Values": { "TRANSACTIONS_API_KEY": "from-file", "Orders__Connection": "from-file", "Kept": "from-file" } }""");
        app.Environment("TRANSACTIONS_API_KEY", "from-environment").Environment("Orders__Connection", "from-environment");

        var configuration = app.Build();

        Assert.Equal("from-environment", configuration["TRANSACTIONS_API_KEY"]);
        Assert.Equal("from-environment", configuration["Orders:Connection"]);
        Assert.Equal("from-file", configuration["Kept"]);
    }

    [Fact]
    public void AddFunctionsFiles_WithoutHostJson_FailsNamingTheFolderAndTheSetting()
    {
        using var app = new AppSettings(hostJson: null);

        var error = Assert.Throws<InvalidOperationException>(app.Build);

        Assert.Contains(app.Folder, error.Message, StringComparison.Ordinal);
        Assert.Contains("FUNCTIONS_APP_ROOT", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:02", 2000)]
    [InlineData("00:00:00.5", 500)]
    [InlineData("00:01:00", 60000)]
    [InlineData("1.00:00:00", 86400000)]
    [InlineData("2000", 2000)]
    [InlineData("250", 250)]
    [InlineData("0", 0)]
    [InlineData(" 00:00:03 ", 3000)]
    public void Span_ReadsHoursMinutesSecondsOrAWholeNumberOfMilliseconds(string text, int milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), FunctionsConfiguration.Span(Section(text), "value"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void Span_Whole_AndFlag_OfAnAbsentValue_AreNull(string? text)
    {
        Assert.Null(FunctionsConfiguration.Span(Section(text), "value"));
        Assert.Null(FunctionsConfiguration.Whole(Section(text), "value"));
        Assert.Null(FunctionsConfiguration.Flag(Section(text), "value"));
    }

    [Fact]
    public void Span_OfText_FailsNamingTheSettingAndValue()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FunctionsConfiguration.Span(Section("soon"), "value"));

        Assert.Equal("AzureFunctionsJobHost:extensions:test:value is not a time span: 'soon'", error.Message);
    }

    [Theory]
    [InlineData("16", 16)]
    [InlineData("-1", -1)]
    public void Whole_ReadsAWholeNumber(string text, int expected)
    {
        Assert.Equal(expected, FunctionsConfiguration.Whole(Section(text), "value"));
    }

    [Theory]
    [InlineData("sixteen")]
    [InlineData("1.5")]
    [InlineData("99999999999")]
    public void Whole_OfSomethingElse_FailsNamingTheSettingAndValue(string text)
    {
        var error = Assert.Throws<InvalidOperationException>(() => FunctionsConfiguration.Whole(Section(text), "value"));

        Assert.Equal($"AzureFunctionsJobHost:extensions:test:value is not a whole number: '{text}'", error.Message);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("False", false)]
    public void Flag_ReadsTrueOrFalse(string text, bool expected)
    {
        Assert.Equal(expected, FunctionsConfiguration.Flag(Section(text), "value"));
    }

    [Fact]
    public void Flag_OfSomethingElse_FailsNamingTheSettingAndValue()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FunctionsConfiguration.Flag(Section("yes"), "value"));

        Assert.Equal("AzureFunctionsJobHost:extensions:test:value is not true or false: 'yes'", error.Message);
    }

    private static IConfigurationSection Section(string? value) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["AzureFunctionsJobHost:extensions:test:value"] = value })
            .Build().GetSection("AzureFunctionsJobHost:extensions:test");
}
