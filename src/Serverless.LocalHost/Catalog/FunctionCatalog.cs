using System.Reflection;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Extensions.Abstractions;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace Serverless.LocalHost.Catalog;

/// <summary>The trigger kinds this host serves.</summary>
public enum TriggerKind
{
    Http,
    Queue,
    Timer,
    Orchestration,
    Activity,
}

/// <summary>
/// One function of the app, as declared by its <c>[Function]</c> method: the single source of truth for its name, trigger,
/// route or queue. <paramref name="Target"/> is the route template (HTTP), queue name (queue) or schedule (timer), with
/// <c>%Setting%</c> expressions unresolved. An HTTP function without <paramref name="HttpMethods"/> answers every method, as in Functions.
/// A queue trigger's <see cref="Connection"/> names the storage connection it reads (null: the app's own, AzureWebJobsStorage).
/// </summary>
public sealed record LocalFunction(
    string Name,
    MethodInfo Method,
    TriggerKind Trigger,
    ParameterInfo TriggerParameter,
    string? Target,
    IReadOnlyList<string> HttpMethods,
    AuthorizationLevel AuthLevel)
{
    /// <summary>A queue trigger's <c>Connection</c>, unresolved (<see cref="Configuration.StorageConnections"/>); null for the default.</summary>
    public string? Connection { get; init; }

    /// <summary>Whether the function needs Durable Task: an orchestrator, an activity, or a <c>[DurableClient]</c> parameter.</summary>
    public bool UsesDurable =>
        Trigger is TriggerKind.Orchestration or TriggerKind.Activity || Method.GetParameters().Any(p => p.IsDefined(typeof(DurableClientAttribute)));

    /// <summary>The type a function's awaited result has (<c>Task&lt;T&gt;</c> gives T), or null for none.</summary>
    public Type? ResultType
    {
        get
        {
            var type = Method.ReturnType;
            if (type == typeof(void) || type == typeof(Task) || type == typeof(ValueTask))
            {
                return null;
            }

            return type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(Task<>) || type.GetGenericTypeDefinition() == typeof(ValueTask<>))
                ? type.GetGenericArguments()[0]
                : type;
        }
    }
}

/// <summary>
/// Finds an app's functions from its <c>[Function]</c> methods, and refuses, naming the function and parameter, any binding
/// this host cannot serve, so that nothing is silently left out.
/// </summary>
public static class FunctionCatalog
{
    /// <summary>Every function of <paramref name="assembly"/> and of <paramref name="more"/> (none by default), ordered by name.</summary>
    /// <remarks>
    /// The app is one assembly; <paramref name="more"/> is for functions served beside it in the same host (the benchmark's
    /// textbook orchestration). Function names are one namespace across all of them, as in one Functions app.
    /// </remarks>
    /// <exception cref="NotSupportedException">
    /// A function uses a trigger, binding or parameter this host does not serve, or two functions (in one assembly or in two)
    /// have the same name, ignoring case.
    /// </exception>
    public static IReadOnlyList<LocalFunction> Load(Assembly assembly, params IEnumerable<Assembly> more)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentNullException.ThrowIfNull(more);
        var functions = new List<LocalFunction>();
        foreach (var type in new[] { assembly }.Concat(more).Distinct().SelectMany(a => a.GetExportedTypes()))
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                if (method.GetCustomAttribute<FunctionAttribute>() is { } function)
                {
                    functions.Add(Describe(function.Name, method));
                }
            }
        }

        var duplicate = functions.GroupBy(f => f.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            var where = string.Join(", ", duplicate.Select(f => $"{f.Method.DeclaringType!.FullName}.{f.Method.Name} in {f.Method.DeclaringType.Assembly.GetName().Name}"));
            throw new NotSupportedException($"Two functions are named '{duplicate.Key}' ({where}).");
        }

        return [.. functions.OrderBy(f => f.Name, StringComparer.Ordinal)];
    }

    private static LocalFunction Describe(string name, MethodInfo method)
    {
        LocalFunction? definition = null;
        foreach (var parameter in method.GetParameters())
        {
            var bindings = parameter.GetCustomAttributes().Where(a => a is BindingAttribute).ToList();
            if (bindings.Count > 1)
            {
                throw Unsupported(name, parameter, "more than one binding attribute");
            }

            switch (bindings.SingleOrDefault())
            {
                case null:
                    CheckPlain(name, method, parameter);
                    break;
                case DurableClientAttribute when parameter.ParameterType == typeof(DurableTaskClient):
                    break;
                case TriggerBindingAttribute trigger when definition is not null:
                    throw Unsupported(name, parameter, $"a second trigger ({trigger.GetType().Name})");
                case HttpTriggerAttribute http when parameter.ParameterType == typeof(HttpRequest):
                    definition = new(name, method, TriggerKind.Http, parameter, http.Route ?? name, [.. (http.Methods ?? []).Select(m => m.ToUpperInvariant())], http.AuthLevel);
                    break;
                case QueueTriggerAttribute queue when parameter.ParameterType == typeof(string):
                    definition = new(name, method, TriggerKind.Queue, parameter, queue.QueueName, [], AuthorizationLevel.Anonymous)
                    {
                        Connection = string.IsNullOrWhiteSpace(queue.Connection) ? null : queue.Connection,
                    };
                    break;
                case TimerTriggerAttribute timer when parameter.ParameterType == typeof(TimerInfo):
                    definition = new(name, method, TriggerKind.Timer, parameter, timer.Schedule, [], AuthorizationLevel.Anonymous);
                    break;
                case OrchestrationTriggerAttribute when parameter.ParameterType == typeof(TaskOrchestrationContext):
                    definition = new(name, method, TriggerKind.Orchestration, parameter, null, [], AuthorizationLevel.Anonymous);
                    break;
                case ActivityTriggerAttribute:
                    definition = new(name, method, TriggerKind.Activity, parameter, null, [], AuthorizationLevel.Anonymous);
                    break;
                case { } other:
                    throw Unsupported(name, parameter, $"[{other.GetType().Name.Replace("Attribute", string.Empty, StringComparison.Ordinal)}] on a {parameter.ParameterType.Name}");
            }
        }

        if (definition is null)
        {
            throw new NotSupportedException($"Function '{name}' ({method.DeclaringType!.Name}.{method.Name}) has no trigger this host serves.");
        }

        // The isolated worker declares a return value's output binding on the method ([QueueOutput] beside [Function]).
        if (method.GetCustomAttributes().Concat(method.ReturnParameter.GetCustomAttributes()).Any(a => a is BindingAttribute))
        {
            throw new NotSupportedException($"Function '{name}' has an output binding on its return value, which this host does not serve.");
        }

        // A result type whose properties carry output bindings (Functions' multiple outputs) would be sent nowhere.
        if (definition.ResultType is { } resultType
            && resultType.GetProperties(BindingFlags.Public | BindingFlags.Instance).FirstOrDefault(p => p.GetCustomAttributes().Any(a => a is BindingAttribute)) is { } output)
        {
            throw new NotSupportedException($"Function '{name}' returns an output binding on {resultType.Name}.{output.Name}, which this host does not serve.");
        }

        if (definition.Trigger == TriggerKind.Http && definition.ResultType is { } result && !typeof(IResult).IsAssignableFrom(result))
        {
            throw new NotSupportedException($"HTTP function '{name}' returns {result.Name}; this host serves HTTP functions that return an IResult (TypedResults/Results).");
        }

        return definition;
    }

    /// <summary>Parameters without a binding: contextual ones, route values (HTTP), the orchestration input (orchestrators).</summary>
    private static void CheckPlain(string name, MethodInfo method, ParameterInfo parameter)
    {
        if (IsContextual(parameter.ParameterType))
        {
            return;
        }

        var trigger = method.GetParameters().SelectMany(p => p.GetCustomAttributes()).OfType<TriggerBindingAttribute>().FirstOrDefault();
        var ok = trigger switch
        {
            HttpTriggerAttribute http => parameter.ParameterType == typeof(string) && (http.Route ?? string.Empty).Contains($"{{{parameter.Name}", StringComparison.OrdinalIgnoreCase),
            OrchestrationTriggerAttribute => true,
            _ => false,
        };
        if (!ok)
        {
            throw Unsupported(name, parameter, "no binding, and it is not a route value, the orchestration input or a CancellationToken");
        }
    }

    private static bool IsContextual(Type type) => type == typeof(CancellationToken);

    private static NotSupportedException Unsupported(string function, ParameterInfo parameter, string what) =>
        new($"Function '{function}', parameter '{parameter.Name}': this local host cannot serve {what}. Run the app with Azure Functions Core Tools (func start), or change the function.");
}
