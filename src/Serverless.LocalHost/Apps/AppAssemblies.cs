using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Serverless.LocalHost.Apps;

/// <summary>
/// Loads another app's built assembly into the default load context, so that the types it shares with this host (the
/// Worker's attributes, <c>HttpRequest</c>, <c>IServiceCollection</c>, …) are the host's own and its functions bind. Its
/// dependencies that the host does not carry come from the app's folder, found through the app's deps.json
/// (<see cref="AssemblyDependencyResolver"/>) when the default context cannot resolve them itself.
/// </summary>
internal static class AppAssemblies
{
    private static readonly ConcurrentDictionary<string, AssemblyDependencyResolver> Resolvers = new(StringComparer.Ordinal);

    static AppAssemblies()
    {
        AssemblyLoadContext.Default.Resolving += (context, name) =>
            Resolvers.Values.Select(r => r.ResolveAssemblyToPath(name)).FirstOrDefault(p => p is not null) is { } path
                ? context.LoadFromAssemblyPath(path)
                : null;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, name) =>
            Resolvers.Values.Select(r => r.ResolveUnmanagedDllToPath(name)).FirstOrDefault(p => p is not null) is { } path
                ? NativeLibrary.Load(path)
                : IntPtr.Zero;
    }

    /// <summary>The app's assembly at <paramref name="path"/>, or the host's own copy of it when the host carries it.</summary>
    /// <exception cref="InvalidOperationException">There is no such file.</exception>
    public static Assembly Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new InvalidOperationException(
                $"{LocalApp.AppOption} {path}: there is no such file. Name the app's built assembly (bin/<configuration>/<framework>/<App>.dll; build the app first).");
        }

        Resolvers.GetOrAdd(full, p => new AssemblyDependencyResolver(p));
        try
        {
            // By name: the host's own copy when it carries the assembly (the coordinator's), the one already loaded, or
            // (through the resolver above) the file itself; one copy per name in the context, whatever the path.
            return AssemblyLoadContext.Default.LoadFromAssemblyName(AssemblyName.GetAssemblyName(full));
        }
        catch (FileNotFoundException)
        {
            return AssemblyLoadContext.Default.LoadFromAssemblyPath(full);
        }
    }
}
