using System.Diagnostics;
using Xunit;

namespace Serverless.Testing.Tests;

public sealed class HelperTests
{
    [Fact]
    public void UniquePrefix_IsShortLowercaseAlphanumericStartingWithALetter_AndNeverRepeats()
    {
        var prefixes = Enumerable.Range(0, 1000).Select(_ => TestNames.UniquePrefix()).ToList();

        Assert.All(prefixes, prefix =>
        {
            Assert.InRange(prefix.Length, 3, 8);
            Assert.True(char.IsAsciiLetterLower(prefix[0]), prefix);
            Assert.True(prefix.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)), prefix);
        });
        Assert.Equal(prefixes.Count, prefixes.Distinct().Count());
    }

    [Fact]
    public async Task Eventually_WhenTheConditionStaysFalse_ThrowsTimeoutNamingWhatWasAwaited()
    {
        var stopwatch = Stopwatch.StartNew();

        var exception = await Assert.ThrowsAsync<TimeoutException>(() => Eventually.WaitAsync(
            () => Task.FromResult(false), TimeSpan.FromMilliseconds(300), "the moon to turn blue"));

        Assert.Contains("the moon to turn blue", exception.Message);
        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Eventually_ReturnsTheFirstAcceptedValue()
    {
        var calls = 0;

        var value = await Eventually.WaitAsync(
            () => Task.FromResult<string?>(++calls < 3 ? null : $"call {calls}"),
            v => v.EndsWith('4'),
            TimeSpan.FromSeconds(10),
            "the fourth call");

        Assert.Equal("call 4", value);
    }

    [Fact]
    public async Task ChildProcess_Kill_EndsTheWholeTreeAndKeepsItsOutput()
    {
        var markerFile = Path.Combine(Path.GetTempPath(), $"{TestNames.UniquePrefix()}.pid");
        // The grandchild writes its pid; if the kill missed it, it would still be alive afterwards.
        await using var child = ChildProcess.Start(
            "/bin/sh", ["-c", $"echo started; echo oops >&2; sleep 300 & echo $! > {markerFile}; wait"]);
        try
        {
            await child.WaitForOutputAsync("started", TimeSpan.FromSeconds(10));
            var grandchild = await Eventually.WaitAsync(
                async () => File.Exists(markerFile) ? (await File.ReadAllTextAsync(markerFile)).Trim() : null,
                text => text.Length > 0,
                TimeSpan.FromSeconds(10),
                "the grandchild's pid");

            await child.KillAndWaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal(137, child.ExitCode);
            await Eventually.WaitAsync(
                () => Task.FromResult(!Directory.Exists($"/proc/{grandchild}") || IsZombie(grandchild)),
                TimeSpan.FromSeconds(10),
                $"grandchild {grandchild} to be gone");
            await Eventually.WaitAsync(
                () => Task.FromResult(child.Output.Contains("oops", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(5),
                "stderr to be captured");
        }
        finally
        {
            File.Delete(markerFile);
        }
    }

    private static bool IsZombie(string pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] == "Z";
        }
        catch (IOException)
        {
            return true;
        }
    }
}
