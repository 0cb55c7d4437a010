using Azure.Data.Tables;
using Serverless.Core.Participants;
using Serverless.Participants.Samples;

namespace Serverless.Bench;

/// <summary>
/// What a phase left at the bank (Table <c>BankAccounts</c>), read after its timers were drained, with an uncounted client:
/// its transactions' branch records by phase, and how many accounts (of every phase so far) still hold money. A phase whose
/// transactions really committed shows two committed branch records per committed transfer and no holds.
/// </summary>
/// <param name="Committed">Branch records of the phase's transactions that committed.</param>
/// <param name="RolledBack">Rolled back (also after a No vote, or before any prepare).</param>
/// <param name="Prepared">Still prepared: waiting for a decision that has not arrived.</param>
/// <param name="Refused">Voted No, not (yet) rolled back.</param>
/// <param name="AccountsHolding">Accounts whose <c>Held</c> is not 0.</param>
public sealed record BankCheck(int Committed, int RolledBack, int Prepared, int Refused, int AccountsHolding)
{
    /// <summary>Reads the branch records of the transactions whose ids start with <c>{phase}-</c>, and the holds.</summary>
    public static async Task<BankCheck> ReadAsync(string connectionString, string phase, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(phase);
        var table = new TableServiceClient(connectionString).GetTableClient("BankAccounts");

        // Record keys are "tx|{transaction}|{branch}"; '.' follows '-', so this range is exactly the phase's "{phase}-..." ids.
        var from = $"tx|{phase}-";
        var to = $"tx|{phase}.";
        var phases = new Dictionary<string, int>(StringComparer.Ordinal);
        await foreach (var record in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"RowKey ge {from} and RowKey lt {to}"), select: ["Phase"], cancellationToken: cancellationToken))
        {
            var name = record.GetString("Phase") ?? "?";
            phases[name] = phases.GetValueOrDefault(name) + 1;
        }

        var holding = 0;
        var filter = TableClient.CreateQueryFilter($"RowKey eq {BankResourceManager.AccountRow} and Held ne {0L}");
        await foreach (var _ in table.QueryAsync<TableEntity>(filter, select: ["Held"], cancellationToken: cancellationToken))
        {
            holding++;
        }

        int Count(BranchPhase p) => phases.GetValueOrDefault(p.ToString());
        return new BankCheck(Count(BranchPhase.Committed), Count(BranchPhase.RolledBack), Count(BranchPhase.Prepared), Count(BranchPhase.Refused), holding);
    }

    public override string ToString() =>
        $"bank: {Committed} branch records committed, {RolledBack} rolled back, {Prepared} prepared, {Refused} refused; {AccountsHolding} accounts holding money";
}
