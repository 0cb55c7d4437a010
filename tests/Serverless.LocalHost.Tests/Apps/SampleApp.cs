using System.Reflection;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Apps;

/// <summary>
/// tests/Serverless.LocalHost.SampleApp, an independent isolated-worker app, as built (this project's reference builds it
/// and never loads it): its functions are <c>Hello</c> (GET hello/{name}), <c>Journal</c> (GET journal), <c>Inbox</c> (queue
/// <see cref="Inbox"/> on the connection <see cref="Connection"/>) and <c>Tick</c> (every second).
/// </summary>
internal static class SampleApp
{
    public const string Connection = "COORDINATOR_STORAGE";

    public const string Inbox = "sample-inbox";

    /// <summary>The sample app's built assembly, in the configuration this project was built in.</summary>
    public static string AssemblyPath => Built("tests/Serverless.LocalHost.SampleApp", "Serverless.LocalHost.SampleApp.dll");

    /// <summary>The sample app's library beside it: an assembly with no registration method.</summary>
    public static string LibraryPath => Built("tests/Serverless.LocalHost.SampleApp", "Serverless.LocalHost.SampleKit.dll");

    /// <summary>The local host's own build, for running it as a process.</summary>
    public static string HostPath => Built("src/Serverless.LocalHost", "Serverless.LocalHost.dll");

    /// <summary>A storage connection string whose endpoints nothing listens on: an account the sample app must never use.</summary>
    public static string Nowhere { get; } =
        $"DefaultEndpointsProtocol=http;AccountName={AzuriteInstance.AccountName};AccountKey={AzuriteInstance.AccountKey};"
        + $"BlobEndpoint=http://127.0.0.1:9/{AzuriteInstance.AccountName};QueueEndpoint=http://127.0.0.1:9/{AzuriteInstance.AccountName};"
        + $"TableEndpoint=http://127.0.0.1:9/{AzuriteInstance.AccountName};";

    private static string Built(string project, string file)
    {
        var configuration = typeof(SampleApp).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var path = Path.Combine(RepositoryRoot.Find(), project, "bin", configuration, "net10.0", file);
        return File.Exists(path) ? path : throw new InvalidOperationException($"'{path}' is not built; build tests/Serverless.LocalHost.Tests (it builds {project}).");
    }
}
