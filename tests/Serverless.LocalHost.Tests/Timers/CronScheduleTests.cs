using System.Globalization;
using Serverless.LocalHost.Timers;

namespace Serverless.LocalHost.Tests.Timers;

public sealed class CronScheduleTests
{
    [Theory]
    // Every second, and "strictly after": an occurrence itself is not its own next.
    [InlineData("* * * * * *", "2026-11-24T12:00:00", "2026-11-24T12:00:01")]
    [InlineData("0 * * * * *", "2026-11-24T12:01:00", "2026-11-24T12:02:00")]
    // Steps across the minute and hour boundaries.
    [InlineData("*/15 * * * * *", "2026-11-24T12:00:14", "2026-11-24T12:00:15")]
    [InlineData("*/15 * * * * *", "2026-11-24T12:00:45", "2026-11-24T12:01:00")]
    [InlineData("*/30 * * * * *", "2026-11-24T12:59:59", "2026-11-24T13:00:00")]
    [InlineData("0 */5 * * * *", "2026-11-24T12:03:10", "2026-11-24T12:05:00")]
    [InlineData("0 */5 * * * *", "2026-11-24T12:55:00", "2026-11-24T13:00:00")]
    // A step over a range, and a step from a start.
    [InlineData("10-50/20 * * * * *", "2026-11-24T12:00:11", "2026-11-24T12:00:30")]
    [InlineData("10-50/20 * * * * *", "2026-11-24T12:00:50", "2026-11-24T12:01:10")]
    [InlineData("5/15 * * * * *", "2026-11-24T12:00:06", "2026-11-24T12:00:20")]
    [InlineData("5/15 * * * * *", "2026-11-24T12:00:50", "2026-11-24T12:01:05")]
    // Ranges and lists across the day boundary.
    [InlineData("0 0 9-17 * * *", "2026-11-24T08:59:59", "2026-11-24T09:00:00")]
    [InlineData("0 0 9-17 * * *", "2026-11-24T17:00:00", "2026-11-25T09:00:00")]
    [InlineData("0 30 8,12,18 * * *", "2026-11-24T12:30:00", "2026-11-24T18:30:00")]
    [InlineData("0 30 8,12,18 * * *", "2026-11-24T18:30:00", "2026-11-25T08:30:00")]
    [InlineData("0 0 0 * * *", "2026-11-24T23:59:59", "2026-11-25T00:00:00")]
    // Month and year boundaries, and days some months do not have.
    [InlineData("0 0 0 1 * *", "2026-01-15T10:00:00", "2026-02-01T00:00:00")]
    [InlineData("0 0 0 1 * *", "2026-12-31T23:59:59", "2027-01-01T00:00:00")]
    [InlineData("0 0 0 31 * *", "2026-01-31T00:00:00", "2026-03-31T00:00:00")]
    [InlineData("0 0 0 31 * *", "2026-04-01T00:00:00", "2026-05-31T00:00:00")]
    [InlineData("0 0 0 29 2 *", "2026-03-01T00:00:00", "2028-02-29T00:00:00")]
    [InlineData("0 15 10 1 1,7 *", "2026-02-01T00:00:00", "2026-07-01T10:15:00")]
    // Days of the week: 2026-11-24 is a Tuesday; 0 is Sunday.
    [InlineData("0 0 12 * * 1", "2026-11-24T12:00:00", "2026-11-30T12:00:00")]
    [InlineData("0 0 0 * * 0,6", "2026-11-24T12:00:00", "2026-11-28T00:00:00")]
    [InlineData("0 0 0 * * 1-5", "2026-11-27T12:00:00", "2026-11-30T00:00:00")]
    public void Next_OfASixFieldSchedule_IsTheFirstOccurrenceStrictlyAfter(string schedule, string after, string expected)
    {
        Assert.Equal(Utc(expected), CronSchedule.Parse(schedule).Next(Utc(after)));
    }

    [Fact]
    public void Next_FromWithinASecond_IsTheNextWholeSecond()
    {
        var after = Utc("2026-11-24T12:00:00").AddMilliseconds(400);

        Assert.Equal(Utc("2026-11-24T12:00:01"), CronSchedule.Parse("* * * * * *").Next(after));
    }

    [Fact]
    public void Next_RepeatedFromEachOccurrence_WalksTheSchedule()
    {
        var schedule = CronSchedule.Parse("*/20 58-59 23 31 12 *");
        var t = Utc("2026-12-31T23:57:00");
        var seen = new List<DateTimeOffset>();
        for (var i = 0; i < 7; i++)
        {
            t = schedule.Next(t);
            seen.Add(t);
        }

        Assert.Equal(
            new[] { "2026-12-31T23:58:00", "2026-12-31T23:58:20", "2026-12-31T23:58:40", "2026-12-31T23:59:00", "2026-12-31T23:59:20", "2026-12-31T23:59:40", "2027-12-31T23:58:00" }
                .Select(Utc),
            seen);
    }

    [Theory]
    [InlineData("  0   */5 *  * * *  ", "2026-11-24T12:03:10", "2026-11-24T12:05:00")]
    [InlineData("0 0,0,0 * * * *", "2026-11-24T12:03:10", "2026-11-24T13:00:00")]
    public void Parse_ToleratesExtraSpacesAndRepeatedValues(string schedule, string after, string expected)
    {
        Assert.Equal(Utc(expected), CronSchedule.Parse(schedule).Next(Utc(after)));
    }

    [Theory]
    [InlineData("00:00:01", 1)]
    [InlineData("00:05:00", 300)]
    [InlineData("01:00:00", 3600)]
    [InlineData("1.00:00:00", 86400)]
    public void Next_OfATimeSpanSchedule_IsThatMuchLaterUnaligned(string schedule, int seconds)
    {
        var after = Utc("2026-11-24T12:03:10").AddMilliseconds(123);

        Assert.Equal(after.AddSeconds(seconds), CronSchedule.Parse(schedule).Next(after));
    }

    [Theory]
    [InlineData("", "is not a six-field NCRONTAB schedule")]
    [InlineData("* * * * *", "is not a six-field NCRONTAB schedule")]
    [InlineData("* * * * * * *", "is not a six-field NCRONTAB schedule")]
    [InlineData("00:00:00", "is not a six-field NCRONTAB schedule")]
    [InlineData("-00:05:00", "is not a six-field NCRONTAB schedule")]
    [InlineData("60 * * * * *", "'60' in '60 * * * * *' is outside 0-59")]
    [InlineData("* 60 * * * *", "'60' in '* 60 * * * *' is outside 0-59")]
    [InlineData("* * 24 * * *", "is outside 0-23")]
    [InlineData("* * * 0 * *", "is outside 1-31")]
    [InlineData("* * * 32 * *", "is outside 1-31")]
    [InlineData("* * * * 0 *", "is outside 1-12")]
    [InlineData("* * * * 13 *", "is outside 1-12")]
    [InlineData("* * * * * 7", "is outside 0-6")]
    [InlineData("50-70 * * * * *", "'50-70' in '50-70 * * * * *' is outside 0-59")]
    [InlineData("5-1 * * * * *", "'5-1' in '5-1 * * * * *' is outside 0-59")]
    [InlineData("a * * * * *", "'a' in 'a * * * * *' is not a valid field")]
    [InlineData("-1 * * * * *", "'-1' in '-1 * * * * *' is not a valid field")]
    [InlineData("*/0 * * * * *", "'*/0' in '*/0 * * * * *' is not a valid field")]
    [InlineData("*/x * * * * *", "'*/x' in '*/x * * * * *' is not a valid field")]
    [InlineData("1/2/3 * * * * *", "'1/2/3' in '1/2/3 * * * * *' is not a valid field")]
    [InlineData("1,,2 * * * * *", "'' in '1,,2 * * * * *' is not a valid field")]
    [InlineData("1-2-3 * * * * *", "'1-2-3' in '1-2-3 * * * * *' is not a valid field")]
    [InlineData("0 0 12 * * MON", "'MON' in '0 0 12 * * MON' is not a valid field")]
    [InlineData("%TRANSACTIONS_IN_DOUBT_SCHEDULE%", "is not a six-field NCRONTAB schedule")]
    public void Parse_OfABadSchedule_FailsSayingWhatIsWrongWhere(string schedule, string message)
    {
        var error = Assert.Throws<FormatException>(() => CronSchedule.Parse(schedule));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{schedule}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_OfNull_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => CronSchedule.Parse(null!));
    }

    [Fact]
    public void Next_OfADateNoMonthHas_FailsInsteadOfSearchingForever()
    {
        var schedule = CronSchedule.Parse("0 0 0 30 2 *");

        var error = Assert.Throws<InvalidOperationException>(() => schedule.Next(Utc("2026-11-24T12:00:00")));

        Assert.Contains("no occurrence", error.Message, StringComparison.Ordinal);
    }

    private static DateTimeOffset Utc(string text) =>
        DateTimeOffset.ParseExact(text, "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}
