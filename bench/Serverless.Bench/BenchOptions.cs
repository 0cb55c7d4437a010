using System.Globalization;

namespace Serverless.Bench;

/// <summary>The command line of <c>./bench.sh</c>.</summary>
public sealed record BenchOptions
{
    public const string Usage = """
        Usage: ./bench.sh [--json FILE] [--quick] [--no-scale-out] [--capacity-seconds N] [--timeout-seconds N] [--only NAMES]
          --json FILE           also write the figures as JSON to FILE
          --quick               a fifth of the transactions, at most 15 s of starts per phase, 1 s capacity probes (a smoke run)
          --no-scale-out        skip the one-versus-two host processes comparison
          --capacity-seconds N  how long each Azurite capacity probe runs (default 3)
          --timeout-seconds N   the vote deadline each transaction asks for (default 10; the timers are drained per phase)
          --only NAMES          run only these phases (comma-separated: c1,textbook-c1,c8,textbook-c8,c32,textbook-c32,c128,abort20,five,one,
                                order,mixed)
        The textbook-* phases run the same transfers against the textbook Durable 2PC kept in bench/ (same host, Azurite and
        settings), each right after the product's phase of the same concurrency; the report compares the pairs. The order and
        mixed phases run the same 3-branch order, all 2PC and then with its money as a saga charge at the payment service
        (a process the benchmark starts) and its stock as a TCC branch.
        No phase starts after 13 minutes: the rest are reported as skipped.
        """;

    /// <summary>Where to write the JSON; null: not written.</summary>
    public string? JsonPath { get; init; }

    /// <summary>Multiplies every phase's transaction count. Default 1.</summary>
    public double Scale { get; init; } = 1;

    /// <summary>Phase names to run; null: all.</summary>
    public IReadOnlySet<string>? Only { get; init; }

    /// <summary>Whether to compare one host process with two. Default true.</summary>
    public bool ScaleOut { get; init; } = true;

    /// <summary>Length of each Azurite capacity probe. Default 3 s.</summary>
    public TimeSpan CapacityDuration { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>The <c>timeoutSeconds</c> of every transaction (its vote deadline timer). Default 10.</summary>
    public int TimeoutSeconds { get; init; } = 10;

    /// <summary>No phase starts transactions for longer than this, so that a slow machine still ends in minutes. Default 30 s.</summary>
    public TimeSpan PhaseTimeLimit { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// No phase or scale-out configuration starts after the run has lasted this long (the rest are reported as skipped),
    /// so that a slow or busy machine still gets its table. Default 13 minutes (10 before the three textbook phases).
    /// </summary>
    public TimeSpan TimeBudget { get; init; } = TimeSpan.FromMinutes(13);

    /// <summary>
    /// The phases, in order: the 2-branch concurrency ladder (at c=1, 8 and 32 each followed by the same load on the
    /// textbook orchestration), the abort mix, the 5-branch case, the one-phase case, and the 3-branch order all 2PC and mixed
    /// (saga, 2PC, TCC).
    /// </summary>
    public IReadOnlyList<Scenario> Phases => [.. AllPhases.Where(p => Only is null || Only.Contains(p.Name))];

    private IReadOnlyList<Scenario> AllPhases =>
    [
        new("c1", 2, 1, Count(100)),
        new("textbook-c1", 2, 1, Count(100), Orchestration: Orchestration.Textbook),
        new("c8", 2, 8, Count(300)),
        new("textbook-c8", 2, 8, Count(300), Orchestration: Orchestration.Textbook),
        new("c32", 2, 32, Count(500)),
        new("textbook-c32", 2, 32, Count(500), Orchestration: Orchestration.Textbook),
        new("c128", 2, 128, Count(600), TimeoutSeconds: 30),
        new("abort20", 2, 32, Count(300), AbortShare: 0.2),
        new("five", 5, 32, Count(200)),
        new("one", 1, 32, Count(500)),
        new("order", 3, 8, Count(200)),
        new("mixed", 3, 8, Count(200), Mixed: true),
    ];

    /// <summary>The scale-out comparison's load, run once against one host process and once against two.</summary>
    public Scenario ScaleOutPhase => new("scale", 2, 64, Count(400));

    public static BenchOptions Parse(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value\n{Usage}");
            options = args[i] switch
            {
                "--json" => options with { JsonPath = Value() },
                "--quick" => options with { Scale = 0.2, CapacityDuration = TimeSpan.FromSeconds(1), PhaseTimeLimit = TimeSpan.FromSeconds(15) },
                "--no-scale-out" => options with { ScaleOut = false },
                "--capacity-seconds" => options with { CapacityDuration = TimeSpan.FromSeconds(Number(Value(), 1, 60)) },
                "--timeout-seconds" => options with { TimeoutSeconds = Number(Value(), 2, 3600) },
                "--only" => options with { Only = Names(Value()) },
                _ => throw new ArgumentException($"unknown argument '{args[i]}'\n{Usage}"),
            };
        }

        return options;
    }

    /// <summary>The phase names of <c>--only</c>; an unknown one is refused, so that a typo does not silently run nothing.</summary>
    private static HashSet<string> Names(string text)
    {
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var known = new BenchOptions().AllPhases.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        return names.FirstOrDefault(n => !known.Contains(n)) is { } unknown
            ? throw new ArgumentException($"--only: no phase is named '{unknown}' (known: {string.Join(',', known)})")
            : names;
    }

    private int Count(int n) => Math.Max(10, (int)Math.Round(n * Scale));

    private static int Number(string text, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new ArgumentException($"'{text}' is not a whole number from {min} to {max}");
}
