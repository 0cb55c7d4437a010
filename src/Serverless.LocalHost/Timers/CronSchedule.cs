using System.Globalization;

namespace Serverless.LocalHost.Timers;

/// <summary>
/// A Functions timer schedule: an NCRONTAB expression of six fields (second, minute, hour, day, month, day of week), each
/// <c>*</c>, a number, a range <c>a-b</c>, a list <c>a,b</c>, or a step <c>*/n</c> or <c>a-b/n</c>; or a time span
/// "hh:mm:ss" (every so often).
/// </summary>
public sealed class CronSchedule
{
    private static readonly (int Min, int Max)[] Ranges = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
    private readonly HashSet<int>[]? _fields;
    private readonly TimeSpan? _every;

    private CronSchedule(HashSet<int>[]? fields, TimeSpan? every)
    {
        _fields = fields;
        _every = every;
    }

    /// <exception cref="FormatException">Not a schedule this parser understands; the message says why.</exception>
    public static CronSchedule Parse(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var parts = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 1 && TimeSpan.TryParse(parts[0], CultureInfo.InvariantCulture, out var every) && every > TimeSpan.Zero)
        {
            return new CronSchedule(null, every);
        }

        if (parts.Length != 6)
        {
            throw new FormatException($"'{expression}' is not a six-field NCRONTAB schedule (second minute hour day month day-of-week).");
        }

        return new CronSchedule([.. parts.Select((p, i) => Field(p, Ranges[i].Min, Ranges[i].Max, expression))], null);
    }

    /// <summary>The first occurrence strictly after <paramref name="after"/>, in UTC (whole seconds).</summary>
    public DateTimeOffset Next(DateTimeOffset after)
    {
        after = after.ToUniversalTime();
        if (_every is { } every)
        {
            return after + every;
        }

        var t = new DateTimeOffset(after.Year, after.Month, after.Day, after.Hour, after.Minute, after.Second, TimeSpan.Zero).AddSeconds(1);
        var limit = t.AddYears(5);
        while (t < limit)
        {
            if (!_fields![4].Contains(t.Month))
            {
                t = new DateTimeOffset(t.Year, t.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
            }
            else if (!_fields[3].Contains(t.Day) || !_fields[5].Contains((int)t.DayOfWeek))
            {
                t = new DateTimeOffset(t.Year, t.Month, t.Day, 0, 0, 0, TimeSpan.Zero).AddDays(1);
            }
            else if (!_fields[2].Contains(t.Hour))
            {
                t = new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, 0, 0, TimeSpan.Zero).AddHours(1);
            }
            else if (!_fields[1].Contains(t.Minute))
            {
                t = new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero).AddMinutes(1);
            }
            else if (!_fields[0].Contains(t.Second))
            {
                t = t.AddSeconds(1);
            }
            else
            {
                return t;
            }
        }

        throw new InvalidOperationException("The schedule has no occurrence in the next five years.");
    }

    private static HashSet<int> Field(string text, int min, int max, string expression)
    {
        var values = new HashSet<int>();
        foreach (var item in text.Split(','))
        {
            var (range, step) = item.Split('/') switch
            {
                [var r] => (r, 1),
                [var r, var s] when int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 => (r, n),
                _ => throw new FormatException($"'{item}' in '{expression}' is not a valid field."),
            };
            int from, to;
            if (range == "*")
            {
                (from, to) = (min, max);
            }
            else if (range.Split('-') is [var a, var b] && int.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out from) && int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out to))
            {
            }
            else if (int.TryParse(range, NumberStyles.None, CultureInfo.InvariantCulture, out from))
            {
                to = step > 1 ? max : from;
            }
            else
            {
                throw new FormatException($"'{item}' in '{expression}' is not a valid field.");
            }

            if (from < min || to > max || from > to)
            {
                throw new FormatException($"'{item}' in '{expression}' is outside {min}-{max}.");
            }

            for (var v = from; v <= to; v += step)
            {
                values.Add(v);
            }
        }

        return values;
    }
}
