using Microsoft.Playwright;

namespace Serverless.Dashboard.Tests;

/// <summary>
/// A headless Chromium driven by Playwright: the machine's own <c>chromium</c> (Debian's, found on PATH, or
/// <c>CHROMIUM_PATH</c>), never a browser Playwright downloads. Missing is a failure, not a skip: test.sh installs it.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("The browser fixture has not been initialized yet.");

    public async Task InitializeAsync()
    {
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = FindChromium(), Headless = true, Timeout = 60_000 });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }

    /// <summary>The Chromium executable: <c>CHROMIUM_PATH</c>, else the first of chromium, chromium-browser on PATH.</summary>
    public static string FindChromium()
    {
        if (Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : throw new InvalidOperationException($"CHROMIUM_PATH={configured} does not exist.");
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var name in new[] { "chromium", "chromium-browser" })
        {
            foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                var candidate = Path.Combine(directory, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new InvalidOperationException(
            "No chromium on PATH: the dashboard tests need Debian's chromium (apt-get install -y chromium; ./test.sh installs it), or CHROMIUM_PATH.");
    }
}
