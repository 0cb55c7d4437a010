using System.Reflection;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.LocalHost.Catalog;

namespace Serverless.LocalHost.Invocation;

/// <summary>
/// Calls a function the way the isolated worker does: an instance of its class per invocation, created with
/// <see cref="ActivatorUtilities"/> from the app's services (a static method needs none), its parameters filled from the
/// trigger's value, the Durable client, route values and the cancellation token, and its task awaited.
/// </summary>
/// <param name="services">The app's services.</param>
/// <param name="durableClient">The Durable client; null when no function has a <c>[DurableClient]</c> parameter (no task hub).</param>
public sealed class FunctionInvoker(IServiceProvider services, DurableTaskClient? durableClient = null)
{
    /// <summary>Invokes <paramref name="function"/> and returns its awaited result (null for none).</summary>
    /// <param name="function">The function.</param>
    /// <param name="trigger">The trigger parameter's value.</param>
    /// <param name="cancellationToken">Given to a CancellationToken parameter.</param>
    /// <param name="http">The request, for route values.</param>
    /// <param name="input">The orchestration's input, for an orchestrator's input parameter.</param>
    /// <param name="scope">Where to create the function's class; the root services when null.</param>
    public async Task<object?> InvokeAsync(
        LocalFunction function, object? trigger, CancellationToken cancellationToken, HttpContext? http = null, object? input = null, IServiceProvider? scope = null)
    {
        ArgumentNullException.ThrowIfNull(function);
        var method = function.Method;
        var target = method.IsStatic ? null : ActivatorUtilities.CreateInstance(scope ?? services, method.DeclaringType!);
        var args = method.GetParameters().Select(p => Argument(function, p, trigger, http, input, cancellationToken)).ToArray();
        object? returned;
        try
        {
            returned = method.Invoke(target, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }

        // Not ConfigureAwait(false): an orchestrator must resume on Durable Task's scheduler.
        switch (returned)
        {
            case Task task:
                await task;
                return function.ResultType is null ? null : task.GetType().GetProperty("Result")!.GetValue(task);
            case ValueTask valueTask:
                await valueTask;
                return null;
            default:
                if (returned is not null && returned.GetType().IsGenericType && returned.GetType().GetGenericTypeDefinition() == typeof(ValueTask<>))
                {
                    var asTask = (Task)returned.GetType().GetMethod(nameof(ValueTask<int>.AsTask))!.Invoke(returned, null)!;
                    await asTask;
                    return asTask.GetType().GetProperty("Result")!.GetValue(asTask);
                }

                return returned;
        }
    }

    private object? Argument(LocalFunction function, ParameterInfo parameter, object? trigger, HttpContext? http, object? input, CancellationToken cancellationToken)
    {
        // By position, not by reference: a method's ParameterInfo objects are not unique. The runtime caches them lazily, and
        // two threads reflecting over the same method at once (two hosts built in one process) can each get their own.
        if (parameter.Position == function.TriggerParameter.Position)
        {
            return trigger;
        }

        if (parameter.ParameterType == typeof(CancellationToken))
        {
            return cancellationToken;
        }

        if (parameter.GetCustomAttribute<DurableClientAttribute>() is not null)
        {
            return durableClient ?? throw new InvalidOperationException($"Function '{function.Name}' takes a Durable client, but the host runs no task hub.");
        }

        if (function.Trigger == TriggerKind.Http && http is not null)
        {
            return http.Request.RouteValues.TryGetValue(parameter.Name!, out var value) ? value?.ToString() : null;
        }

        return function.Trigger == TriggerKind.Orchestration ? input : null;
    }
}
