using System.Text.Json;
using Azure.Data.Tables;
using Serverless.Core.Participants;
using Serverless.Participants.Tables;

namespace Serverless.Participants.Samples;

/// <summary>A bank operation: debit or credit <see cref="Amount"/> minor units on <see cref="Account"/>.</summary>
public sealed record BankOperation(bool IsDebit, string Account, long Amount);

/// <summary>
/// The sample <c>bank</c> participant: accounts in Table storage (partition = account, row "account" with
/// Balance and Held). A debit holds the amount on prepare; a credit holds nothing (the money is not there to
/// spend until commit). Commit applies, rollback releases.
/// </summary>
public sealed class BankResourceManager(TableClient table) : AmountResourceManager<BankOperation>(table, AccountRow, "Balance", "Held")
{
    public const string AccountRow = "account";

    protected override bool TryParse(JsonElement operation, out BankOperation? parsed, out string? error)
    {
        parsed = null;
        var debit = IsType(operation, "debit");
        if (!debit && !IsType(operation, "credit"))
        {
            error = "'type' must be \"debit\" or \"credit\"";
            return false;
        }

        if (!TryGetKey(operation, "account", out var account, out error) || !TryGetAmount(operation, "amount", out var amount, out error))
        {
            return false;
        }

        parsed = new BankOperation(debit, account, amount);
        return true;
    }

    protected override (string PartitionKey, string RowKey) ResourceOf(BankOperation operation) => (operation.Account, AccountRow);

    protected override (PrepareResult Vote, bool Changed) Reserve(TableEntity? resource, BankOperation op)
    {
        if (resource is null)
        {
            return (PrepareResult.No($"account '{op.Account}' does not exist"), false);
        }

        if (!op.IsDebit)
        {
            return (PrepareResult.Yes, false);
        }

        var available = GetLong(resource, "Balance") - GetLong(resource, "Held");
        if (available < op.Amount)
        {
            return (PrepareResult.No($"insufficient funds in '{op.Account}'"), false);
        }

        resource["Held"] = GetLong(resource, "Held") + op.Amount;
        return (PrepareResult.Yes, true);
    }

    protected override bool Apply(TableEntity resource, BankOperation op)
    {
        if (op.IsDebit)
        {
            resource["Held"] = GetLong(resource, "Held") - op.Amount;
            resource["Balance"] = GetLong(resource, "Balance") - op.Amount;
        }
        else
        {
            resource["Balance"] = GetLong(resource, "Balance") + op.Amount;
        }

        return true;
    }

    protected override bool Release(TableEntity resource, BankOperation op)
    {
        if (!op.IsDebit)
        {
            return false;
        }

        resource["Held"] = GetLong(resource, "Held") - op.Amount;
        return true;
    }
}
