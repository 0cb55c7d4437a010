using Serverless.Core.Messaging;

namespace Serverless.Core.Tests.Messaging;

public sealed class IdentifiersTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("order-1001")]
    [InlineData("Order_1001")]
    [InlineData("-")]
    [InlineData("_")]
    [InlineData("ABCxyz019_-")]
    public void TransactionId_MadeOfLettersDigitsUnderscoresAndHyphens_IsValid(string id)
    {
        Assert.True(Identifiers.IsValidTransactionId(id));
    }

    [Fact]
    public void TransactionId_OfSixtyFourCharacters_IsValidButSixtyFiveIsNot()
    {
        Assert.True(Identifiers.IsValidTransactionId(new string('x', Identifiers.MaxTransactionIdLength)));
        Assert.False(Identifiers.IsValidTransactionId(new string('x', Identifiers.MaxTransactionIdLength + 1)));
        Assert.Equal(64, Identifiers.MaxTransactionIdLength);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("order 1001")]
    [InlineData("order/1001")]
    [InlineData("order.1001")]
    [InlineData("order:1")]
    [InlineData("ordér")]
    [InlineData("order\n")]
    [InlineData("١٢٣")]
    [InlineData("ｏｒｄｅｒ")]
    public void TransactionId_WithAnythingElse_IsInvalid(string? id)
    {
        Assert.False(Identifiers.IsValidTransactionId(id));
    }

    [Theory]
    [InlineData("bank")]
    [InlineData("inventory")]
    [InlineData("a")]
    [InlineData("9")]
    [InlineData("bank-eu-2")]
    [InlineData("a1-b2-c3")]
    public void ParticipantName_OfLowerCaseLettersDigitsAndSingleInnerHyphens_IsValid(string name)
    {
        Assert.True(Identifiers.IsValidParticipantName(name));
    }

    [Fact]
    public void ParticipantName_OfFortyCharacters_IsValidButFortyOneIsNot()
    {
        Assert.True(Identifiers.IsValidParticipantName(new string('p', Identifiers.MaxParticipantNameLength)));
        Assert.False(Identifiers.IsValidParticipantName(new string('p', Identifiers.MaxParticipantNameLength + 1)));

        // tx-participant-{name}-poison must stay within the 63 characters of a queue name.
        Assert.True($"tx-participant-{new string('p', Identifiers.MaxParticipantNameLength)}-poison".Length <= 63);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Bank")]
    [InlineData("BANK")]
    [InlineData("-bank")]
    [InlineData("bank-")]
    [InlineData("-")]
    [InlineData("bank--eu")]
    [InlineData("bank_eu")]
    [InlineData("bank eu")]
    [InlineData("bank.eu")]
    [InlineData("bänk")]
    public void ParticipantName_WithAnythingElse_IsInvalid(string? name)
    {
        Assert.False(Identifiers.IsValidParticipantName(name));
    }

    [Fact]
    public void MaxBranches_IsSixtyFour()
    {
        Assert.Equal(64, Identifiers.MaxBranches);
    }
}
