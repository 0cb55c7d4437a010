namespace Serverless.Payments;

/// <summary>What a fault does to a request.</summary>
public enum Fault
{
    /// <summary>No fault: the request is served.</summary>
    None,

    /// <summary>Answer 503 and change nothing.</summary>
    Fail,

    /// <summary>Never answer (until the client gives up) and change nothing.</summary>
    Hang,

    /// <summary>Charges only: apply the charge, then answer 503 as if the answer were lost on the way.</summary>
    Lose,
}

/// <summary>An account's faults and request counters, as <c>GET /faults/{account}</c> shows them.</summary>
public sealed record FaultState(Fault Charge, Fault Refund, int? Times, long ChargeRequests, long RefundRequests);

/// <summary>
/// Faults for tests, per account, in memory only (a restart clears them but not the journal). Each charge or refund request
/// on an account is counted, faulted or not; a fault set with <c>times</c> serves that many requests (charges and refunds
/// together) and then clears itself.
/// </summary>
public sealed class FaultSwitchboard
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _accounts = new(StringComparer.Ordinal);

    public void Set(string account, Fault charge, Fault refund, int? times)
    {
        if (times is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(times), times, "times must be at least 1, or null for until cleared.");
        }

        lock (_gate)
        {
            var entry = EntryOf(account);
            (entry.Charge, entry.Refund, entry.Times) = (charge, refund, times);
        }
    }

    /// <summary>Clears the account's faults; its counters stay.</summary>
    public void Clear(string account) => Set(account, Fault.None, Fault.None, null);

    public FaultState State(string account)
    {
        lock (_gate)
        {
            var entry = EntryOf(account);
            return new FaultState(entry.Charge, entry.Refund, entry.Times, entry.ChargeRequests, entry.RefundRequests);
        }
    }

    /// <summary>Counts a charge request on <paramref name="account"/> and returns the fault to apply to it.</summary>
    public Fault OnCharge(string account)
    {
        lock (_gate)
        {
            var entry = EntryOf(account);
            entry.ChargeRequests++;
            return Use(entry, entry.Charge);
        }
    }

    /// <summary>Counts a refund request on <paramref name="account"/> and returns the fault to apply to it.</summary>
    public Fault OnRefund(string account)
    {
        lock (_gate)
        {
            var entry = EntryOf(account);
            entry.RefundRequests++;
            return Use(entry, entry.Refund);
        }
    }

    private static Fault Use(Entry entry, Fault fault)
    {
        if (fault != Fault.None && entry.Times is { } times)
        {
            entry.Times = times - 1;
            if (entry.Times == 0)
            {
                (entry.Charge, entry.Refund, entry.Times) = (Fault.None, Fault.None, null);
            }
        }

        return fault;
    }

    private Entry EntryOf(string account)
    {
        if (!_accounts.TryGetValue(account, out var entry))
        {
            _accounts[account] = entry = new Entry();
        }

        return entry;
    }

    private sealed class Entry
    {
        public Fault Charge { get; set; }

        public Fault Refund { get; set; }

        public int? Times { get; set; }

        public long ChargeRequests { get; set; }

        public long RefundRequests { get; set; }
    }
}
