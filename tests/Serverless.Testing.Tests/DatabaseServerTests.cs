using Xunit;

namespace Serverless.Testing.Tests;

/// <summary>The pure parts of the database servers: reading a script's output, naming folders and databases.</summary>
public sealed class DatabaseServerTests
{
    private static readonly ServerScript Script = new("example.sh", "serverless-ex-", "Host=", TimeSpan.FromMinutes(1));

    [Fact]
    public void ConnectionStringIn_AnswersTheLastNonBlankLine_Trimmed()
    {
        var output = "initdb: done\nHost=127.0.0.1;Port=1\n  Host=127.0.0.1;Port=2  \n\n";

        Assert.Equal("Host=127.0.0.1;Port=2", Script.ConnectionStringIn(output));
    }

    [Theory]
    [InlineData("")]
    [InlineData("started\n")]
    [InlineData("Host=127.0.0.1;Port=1\nlast words\n")]
    public void ConnectionStringIn_WhenTheLastLineIsNoConnectionString_ThrowsWithTheOutput(string output)
    {
        var exception = Assert.Throws<InvalidOperationException>(() => Script.ConnectionStringIn(output));

        Assert.Contains("scripts/example.sh start printed no connection string", exception.Message, StringComparison.Ordinal);
        Assert.EndsWith(output, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NewDirectory_IsFreshUnderTheTempFolder_AndShortEnoughForAUnixSocket()
    {
        var first = Script.NewDirectory();
        var second = Script.NewDirectory();

        Assert.NotEqual(first, second);
        Assert.All([first, second], directory =>
        {
            Assert.Equal(Path.GetTempPath().TrimEnd('/'), Path.GetDirectoryName(directory));
            Assert.StartsWith("serverless-ex-", Path.GetFileName(directory), StringComparison.Ordinal);
            Assert.Equal(ServerScript.DirectoryNameLength, Path.GetFileName(directory).Length);
            Assert.False(Directory.Exists(directory));
        });
    }

    [Fact]
    public void DatabaseName_KeepsTwentyLowercaseLettersAndDigitsOfTheOwner_AndIsUniquePerCall()
    {
        var name = DatabaseServer.DatabaseName("Ledger.Scenario_Tests+Fixture-With-A-Long-Name");

        Assert.Matches("^t_ledgerscenariotestsf_[0-9a-f]{32}$", name);
        Assert.NotEqual(name, DatabaseServer.DatabaseName("Ledger.Scenario_Tests+Fixture-With-A-Long-Name"));
    }
}
