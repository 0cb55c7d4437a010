using System.Reflection;
using Serverless.LocalHost.Configuration;

namespace Serverless.LocalHost.Apps;

/// <summary>
/// The Functions app this host runs: its assembly (whose <c>[Function]</c> methods are its functions), its registration
/// method (the one its <c>Program.cs</c> calls to register its services, so that both hosts register the same), its folder
/// (host.json, local.settings.json), and what the host adds for it beyond its functions (<see cref="AppExtras"/>). This is
/// the one place that tells the coordinator app, hosted by default, from any other.
/// </summary>
public sealed record LocalApp(Assembly Assembly, MethodInfo Registration, string Root, AppExtras Extras)
{
    /// <summary>The command-line option naming another app's built assembly: <c>--app path/to/App.dll</c>.</summary>
    public const string AppOption = "--app";

    /// <summary>The environment variable with the meaning of <see cref="AppOption"/> (the option wins).</summary>
    public const string AppAssemblyVariable = "FUNCTIONS_APP_ASSEMBLY";

    /// <summary>The app's name, for messages.</summary>
    public string Name => NameOf(Assembly);

    /// <summary>The app <c>--app</c> (or <c>FUNCTIONS_APP_ASSEMBLY</c>) names, else the coordinator app.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="coordinatorRoot">The coordinator app's folder instead of <see cref="FunctionsConfiguration.FindAppRoot"/> (tests).</param>
    /// <exception cref="InvalidOperationException">The named assembly is missing, or its registration method is not one.</exception>
    public static LocalApp Choose(IReadOnlyList<string> args, string? coordinatorRoot = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var path = OptionValue(args) ?? Environment.GetEnvironmentVariable(AppAssemblyVariable);
        return string.IsNullOrWhiteSpace(path) ? Coordinator(coordinatorRoot) : FromAssemblyPath(path);
    }

    /// <summary>The coordinator app, which this host carries; its folder is <paramref name="root"/>, else <see cref="FunctionsConfiguration.FindAppRoot"/>.</summary>
    public static LocalApp Coordinator(string? root = null) =>
        new(CoordinatorApp.Assembly, RegistrationOf(CoordinatorApp.Assembly), root ?? FunctionsConfiguration.FindAppRoot(), CoordinatorApp.Extras);

    /// <summary>
    /// The app built into <paramref name="path"/>, loaded with its dependencies (<see cref="AppAssemblies"/>). Its folder is
    /// <c>FUNCTIONS_APP_ROOT</c> when set, else the assembly's own (the Worker SDK's build copies host.json there).
    /// </summary>
    public static LocalApp FromAssemblyPath(string path)
    {
        var assembly = AppAssemblies.Load(path);
        var root = Environment.GetEnvironmentVariable("FUNCTIONS_APP_ROOT") is { Length: > 0 } configured
            ? configured
            : Path.GetDirectoryName(Path.GetFullPath(path))!;
        return new(assembly, RegistrationOf(assembly), root, assembly == CoordinatorApp.Assembly ? CoordinatorApp.Extras : AppExtras.None);
    }

    /// <summary>
    /// The app's registration method, found by convention: its one public static method
    /// <c>IServiceCollection Name(this IServiceCollection services, IConfiguration configuration)</c> on an exported type.
    /// </summary>
    /// <exception cref="InvalidOperationException">The app has none, or more than one; the message names them and the fix.</exception>
    public static MethodInfo RegistrationOf(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var found = assembly.GetExportedTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(IsRegistration)
            .ToList();
        const string Convention = "The local host registers an app's services by calling its one public static method "
            + "`IServiceCollection Name(this IServiceCollection services, IConfiguration configuration)`, the one its Program.cs "
            + "calls (builder.Services.Name(builder.Configuration))";
        return found switch
        {
            [var registration] => registration,
            [] => throw new InvalidOperationException(
                $"The app {NameOf(assembly)} has no registration method. {Convention}: add one to the app, even one that registers nothing, and call it from Program.cs."),
            _ => throw new InvalidOperationException(
                $"The app {NameOf(assembly)} has {found.Count} registration methods ({string.Join(", ", found.Select(m => $"{m.DeclaringType!.FullName}.{m.Name}"))}). {Convention}: keep one public, and make the others internal or call them from it."),
        };
    }

    /// <summary>Registers the app's services with its registration method; its own exceptions (a missing setting) pass unwrapped.</summary>
    public void Register(IServiceCollection services, IConfiguration configuration) =>
        Registration.Invoke(null, BindingFlags.DoNotWrapExceptions, binder: null, [services, configuration], culture: null);

    private static bool IsRegistration(MethodInfo method) =>
        method.ReturnType == typeof(IServiceCollection)
        && !method.IsGenericMethodDefinition
        && method.GetParameters() is [var services, var configuration]
        && services.ParameterType == typeof(IServiceCollection)
        && configuration.ParameterType == typeof(IConfiguration);

    private static string? OptionValue(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == AppOption)
            {
                return i + 1 < args.Count ? args[i + 1] : throw new InvalidOperationException($"{AppOption} needs the path of the app's built assembly (its .dll).");
            }

            if (args[i].StartsWith(AppOption + "=", StringComparison.Ordinal))
            {
                return args[i][(AppOption.Length + 1)..];
            }
        }

        return null;
    }

    // Not Assembly.GetName(): an assembly that is not a runtime one (a test's) may only have a full name.
    private static string NameOf(Assembly assembly) => assembly.FullName?.Split(',')[0] ?? assembly.ToString();
}
