namespace Serverless.Payments;

/// <summary>What a charge's key has come to.</summary>
public static class ChargeStatus
{
    public const string Charged = "charged";
    public const string Declined = "declined";
    public const string Voided = "voided";
    public const string Refunded = "refunded";
}

/// <summary>The record kept under an idempotency key. A void (refund before any charge) has no account or amount.</summary>
public sealed record ChargeRecord(string Key, string? Account, long? Amount, string Status, string? Reason = null);

/// <summary>How a charge request was taken.</summary>
public enum ChargeOutcome
{
    /// <summary>First request with this key: charged or declined now.</summary>
    New,

    /// <summary>The key already holds a record for the same account and amount (or a void): that record is the answer.</summary>
    Repeated,

    /// <summary>The key already holds a record for another account or amount: nothing changed.</summary>
    KeyConflict,
}

/// <summary>
/// Accounts and charges in memory, rebuilt at start from the <see cref="Journal"/>. One lock serialises every change:
/// decide, append the one journal line that carries the whole change, apply it, answer.
/// </summary>
/// <remarks>
/// A charge (debit and record) and a refund (credit and mark) are each one journal line, so each is all or nothing across a
/// crash. When an append throws the change is not applied in memory; it may still be on disk (see <see cref="Journal"/>),
/// and a restart then shows it: the caller retries with the same key and gets the recorded answer.
/// </remarks>
public sealed class PaymentStore : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Journal _journal;
    private readonly Dictionary<string, long> _balances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ChargeRecord> _charges = new(StringComparer.Ordinal);

    private PaymentStore(Journal journal) => _journal = journal;

    /// <summary>The journal file.</summary>
    public string JournalPath => _journal.Path;

    /// <summary>Opens the journal in <paramref name="directory"/> (created if missing) and replays it.</summary>
    public static PaymentStore Open(string directory, out int replayed, out bool tornLine)
    {
        var journal = Journal.Open(directory, out var entries, out tornLine);
        var store = new PaymentStore(journal);
        foreach (var entry in entries)
        {
            store.Apply(entry);
        }

        replayed = entries.Count;
        return store;
    }

    public long SetBalance(string account, long balance)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(balance);
        lock (_gate)
        {
            Commit(new JournalEntry("balance", Account: account, Balance: balance));
            return balance;
        }
    }

    /// <summary>The balance, or null when there is no such account.</summary>
    public long? Balance(string account)
    {
        lock (_gate)
        {
            return _balances.TryGetValue(account, out var balance) ? balance : null;
        }
    }

    /// <summary>Every account with its balance, ordered by id (ordinal).</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Accounts()
    {
        lock (_gate)
        {
            return [.. _balances.OrderBy(pair => pair.Key, StringComparer.Ordinal)];
        }
    }

    public ChargeRecord? Charge(string key)
    {
        lock (_gate)
        {
            return _charges.GetValueOrDefault(key);
        }
    }

    /// <summary>
    /// Charges <paramref name="amount"/> to <paramref name="account"/> under <paramref name="key"/> once: the first request
    /// debits (or records a decline), every later one gets the record. A key voided by an earlier refund never debits.
    /// </summary>
    public (ChargeOutcome Outcome, ChargeRecord Record) Charge(string key, string account, long amount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(amount);
        lock (_gate)
        {
            if (_charges.TryGetValue(key, out var recorded))
            {
                var same = recorded.Status == ChargeStatus.Voided || (recorded.Account == account && recorded.Amount == amount);
                return (same ? ChargeOutcome.Repeated : ChargeOutcome.KeyConflict, recorded);
            }

            JournalEntry entry;
            if (!_balances.TryGetValue(account, out var balance))
            {
                entry = new JournalEntry("decline", account, Key: key, Amount: amount, Reason: $"no account '{account}'");
            }
            else if (balance < amount)
            {
                entry = new JournalEntry("decline", account, Key: key, Amount: amount, Reason: $"insufficient funds in '{account}'");
            }
            else
            {
                entry = new JournalEntry("charge", account, Key: key, Amount: amount);
            }

            Commit(entry);
            return (ChargeOutcome.New, _charges[key]);
        }
    }

    /// <summary>
    /// The compensation, idempotent: credits a charge back once; leaves a decline, a refund or a void as it is; and for a key
    /// never seen records a void, so that a charge arriving later under it takes nothing.
    /// </summary>
    public ChargeRecord Refund(string key)
    {
        lock (_gate)
        {
            if (_charges.TryGetValue(key, out var recorded))
            {
                if (recorded.Status != ChargeStatus.Charged)
                {
                    return recorded;
                }

                Commit(new JournalEntry("refund", Key: key));
            }
            else
            {
                Commit(new JournalEntry("void", Key: key));
            }

            return _charges[key];
        }
    }

    public void Dispose() => _journal.Dispose();

    private void Commit(JournalEntry entry)
    {
        _journal.Append(entry);
        Apply(entry);
    }

    // The one place a change takes effect, live and on replay alike.
    private void Apply(JournalEntry entry)
    {
        switch (entry.Op)
        {
            case "balance":
                _balances[Required(entry.Account, entry)] = Required(entry.Balance, entry);
                break;
            case "charge":
                var account = Required(entry.Account, entry);
                var amount = Required(entry.Amount, entry);
                _balances[account] = _balances.GetValueOrDefault(account) - amount;
                _charges[Required(entry.Key, entry)] = new ChargeRecord(entry.Key!, account, amount, ChargeStatus.Charged);
                break;
            case "decline":
                _charges[Required(entry.Key, entry)] =
                    new ChargeRecord(entry.Key!, entry.Account, entry.Amount, ChargeStatus.Declined, entry.Reason);
                break;
            case "refund":
                var charge = _charges[Required(entry.Key, entry)];
                _balances[charge.Account!] = _balances.GetValueOrDefault(charge.Account!) + charge.Amount!.Value;
                _charges[charge.Key] = charge with { Status = ChargeStatus.Refunded };
                break;
            case "void":
                _charges[Required(entry.Key, entry)] = new ChargeRecord(entry.Key!, null, null, ChargeStatus.Voided);
                break;
            default:
                throw new InvalidDataException($"Unknown journal entry '{entry.Op}' in {JournalPath}.");
        }
    }

    private string Required(string? value, JournalEntry entry) =>
        value ?? throw new InvalidDataException($"Journal entry {entry} in {JournalPath} lacks a field.");

    private long Required(long? value, JournalEntry entry) =>
        value ?? throw new InvalidDataException($"Journal entry {entry} in {JournalPath} lacks a field.");
}
