using System.Net;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Loyalty.Tests;

/// <summary>A Try that cannot be carried out is a signed No with a reason (409), and reserves nothing.</summary>
public sealed class ValidationTests(LoyaltyFixture fixture) : IClassFixture<LoyaltyFixture>
{
    private LoyaltyServer Server => fixture.Server;

    [Fact]
    public Task Try_WithZeroPoints_VotesNo() => AssertNoAsync(c => $$"""{"type":"award","customer":"{{c}}","points":0}""", "more than 0");

    [Fact]
    public Task Try_WithNegativePoints_VotesNo() => AssertNoAsync(c => $$"""{"type":"award","customer":"{{c}}","points":-3}""", "more than 0");

    [Fact]
    public Task Try_WithFractionalPoints_VotesNo() => AssertNoAsync(c => $$"""{"type":"award","customer":"{{c}}","points":2.5}""", "whole number");

    [Fact]
    public Task Try_WithPointsAsText_VotesNo() => AssertNoAsync(c => $$"""{"type":"award","customer":"{{c}}","points":"10"}""", "whole number");

    [Fact]
    public Task Try_WithoutPoints_VotesNo() => AssertNoAsync(c => $$"""{"type":"award","customer":"{{c}}"}""", "whole number");

    [Fact]
    public Task Try_WithPointsBeyondWhatJavaScriptCountsExactly_VotesNo() =>
        AssertNoAsync(c => $$"""{"type":"award","customer":"{{c}}","points":9007199254740993}""", "whole number");

    [Fact]
    public Task Try_WithAnEmptyCustomer_VotesNo() => AssertNoAsync(_ => """{"type":"award","customer":"","points":10}""", "no customer");

    [Fact]
    public Task Try_WithABlankCustomer_VotesNo() => AssertNoAsync(_ => """{"type":"award","customer":"   ","points":10}""", "no customer");

    [Fact]
    public Task Try_WithoutACustomer_VotesNo() => AssertNoAsync(_ => """{"type":"award","points":10}""", "no customer");

    [Fact]
    public Task Try_WithANumberAsCustomer_VotesNo() => AssertNoAsync(_ => """{"type":"award","customer":42,"points":10}""", "no customer");

    [Fact]
    public Task Try_OfAnotherOperationType_VotesNo() => AssertNoAsync(c => $$"""{"type":"redeem","customer":"{{c}}","points":10}""", "award");

    [Fact]
    public Task Try_WithoutAnOperationType_VotesNo() => AssertNoAsync(c => $$"""{"customer":"{{c}}","points":10}""", "award");

    [Fact]
    public async Task RefusedTry_Repeated_AnswersTheSameNo()
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());
        var award = Wire.Award(customer, 0);

        var first = await Server.TryAsync(tx, 0, award);
        var second = await Server.TryAsync(tx, 0, award);

        Assert.Equal(HttpStatusCode.Conflict, second.Status);
        Assert.Equal(first.Text, second.Text);
    }

    private async Task AssertNoAsync(Func<string, string> operation, string reasonSays)
    {
        var (tx, customer) = (Wire.NewTx(), Wire.NewCustomer());

        var answer = await Server.TryAsync(tx, 3, operation(customer));

        Assert.Equal(HttpStatusCode.Conflict, answer.Status);
        var vote = answer.Reply();
        Assert.Equal(Vote.No, vote.Vote);
        Assert.Equal((tx, 3), (vote.TransactionId, vote.Branch));
        Assert.Contains(reasonSays, vote.Reason, StringComparison.Ordinal);
        Assert.Equal((0, 0), await Server.BalanceAsync(customer));
    }
}
