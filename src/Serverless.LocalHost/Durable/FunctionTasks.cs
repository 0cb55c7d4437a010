using DurableTask.Core;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Worker.Shims;
using Serverless.LocalHost.Catalog;
using Serverless.LocalHost.Invocation;

namespace Serverless.LocalHost.Durable;

/// <summary>An orchestrator function as the Durable Task SDK's <see cref="ITaskOrchestrator"/>: its input is the function's input parameter, if it has one.</summary>
internal sealed class FunctionOrchestrator(LocalFunction function, FunctionInvoker invoker) : ITaskOrchestrator
{
    public Type InputType { get; } = function.Method.GetParameters()
        .FirstOrDefault(p => p.Position != function.TriggerParameter.Position && p.ParameterType != typeof(CancellationToken))?.ParameterType ?? typeof(object);

    public Type OutputType => function.ResultType ?? typeof(object);

    public Task<object?> RunAsync(TaskOrchestrationContext context, object? input) =>
        invoker.InvokeAsync(function, context, CancellationToken.None, input: input);
}

/// <summary>An activity function as the Durable Task SDK's <see cref="ITaskActivity"/>: its input is the trigger parameter.</summary>
internal sealed class FunctionActivity(LocalFunction function, FunctionInvoker invoker, IServiceProvider services) : ITaskActivity
{
    public Type InputType => function.TriggerParameter.ParameterType;

    public Type OutputType => function.ResultType ?? typeof(object);

    public async Task<object?> RunAsync(TaskActivityContext context, object? input)
    {
        await using var scope = services.CreateAsyncScope();
        return await invoker.InvokeAsync(function, input, CancellationToken.None, scope: scope.ServiceProvider);
    }
}

/// <summary>Registers an orchestrator or activity function with DurableTask.Core under the function's name; <c>Create()</c> runs per work item.</summary>
internal sealed class FunctionCreator<T> : ObjectCreator<T>
{
    private readonly Func<T> _create;

    public FunctionCreator(string name, Func<T> create)
    {
        Name = name;
        Version = string.Empty;
        _create = create;
    }

    public override T Create() => _create();
}

/// <summary>The orchestrators or activities the engine may run, by function name (versions are not used).</summary>
internal sealed class FunctionRegistry<T> : INameVersionObjectManager<T>
    where T : class
{
    private readonly Dictionary<string, ObjectCreator<T>> _creators = new(StringComparer.OrdinalIgnoreCase);

    public void Add(ObjectCreator<T> creator)
    {
        ArgumentNullException.ThrowIfNull(creator);
        _creators.Add(creator.Name, creator);
    }

    public T? GetObject(string name, string? version) => _creators.TryGetValue(name, out var creator) ? creator.Create() : null;
}
