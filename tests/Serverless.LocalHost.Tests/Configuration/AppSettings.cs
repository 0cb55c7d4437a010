using Microsoft.Extensions.Configuration;
using Serverless.LocalHost.Configuration;

namespace Serverless.LocalHost.Tests.Configuration;

/// <summary>
/// A Functions app's settings as the local host reads them, from a temporary app folder (host.json, local.settings.json)
/// and real environment variables: the environment provider reads only variables under a prefix unique to this instance,
/// so that tests running in parallel (and hosts built meanwhile) never see each other's.
/// </summary>
internal sealed class AppSettings : IDisposable
{
    private readonly string _prefix = $"LHTEST{Guid.NewGuid():N}_";
    private readonly List<string> _variables = [];

    public AppSettings(string? hostJson = """{ "version": "2.0" }""", string? localSettings = null)
    {
        Folder = Path.Combine(Path.GetTempPath(), "serverless-localhost-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        if (hostJson is not null)
        {
            File.WriteAllText(Path.Combine(Folder, "host.json"), hostJson);
        }

        if (localSettings is not null)
        {
            File.WriteAllText(Path.Combine(Folder, "local.settings.json"), localSettings);
        }
    }

    /// <summary>The app folder.</summary>
    public string Folder { get; }

    /// <summary>Sets an environment variable, as Functions names them (<c>A__b</c> for the section <c>A:b</c>).</summary>
    public AppSettings Environment(string name, string value)
    {
        System.Environment.SetEnvironmentVariable(_prefix + name, value);
        _variables.Add(_prefix + name);
        return this;
    }

    /// <summary>The environment, then the app's two files below it, as <see cref="LocalFunctionsHost"/> layers them.</summary>
    public IConfiguration Build()
    {
        var builder = new ConfigurationBuilder().AddEnvironmentVariables(_prefix);
        FunctionsConfiguration.AddFunctionsFiles(builder, Folder);
        return builder.Build();
    }

    public void Dispose()
    {
        foreach (var variable in _variables)
        {
            System.Environment.SetEnvironmentVariable(variable, null);
        }

        Directory.Delete(Folder, recursive: true);
    }
}
