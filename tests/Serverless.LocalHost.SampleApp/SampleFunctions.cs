using Microsoft.Azure.Functions.Worker;
using Serverless.LocalHost.SampleKit;

namespace Serverless.LocalHost.SampleApp;

/// <summary>
/// The sample app's functions: a greeting and a journal over HTTP, an inbox read from another app's storage account through
/// the named connection <c>COORDINATOR_STORAGE</c> (as an outside participant reads its inbox), and a timer.
/// </summary>
public sealed class SampleFunctions(Greeter greeter, Journal journal)
{
    /// <summary>The inbox queue.</summary>
    public const string Inbox = "sample-inbox";

    [Function("Hello")]
    public IResult Hello([HttpTrigger(AuthorizationLevel.Function, "get", Route = "hello/{name}")] HttpRequest request, string name) =>
        TypedResults.Ok(new { greeting = greeter.Greet(name) });

    [Function("Journal")]
    public IResult Read([HttpTrigger(AuthorizationLevel.Function, "get", Route = "journal")] HttpRequest request) =>
        TypedResults.Ok(new { messages = journal.Messages, ticks = journal.Ticks });

    [Function("Inbox")]
    public void Receive([QueueTrigger(Inbox, Connection = "COORDINATOR_STORAGE")] string message) => journal.Received(message);

    [Function("Tick")]
    public void Tick([TimerTrigger("* * * * * *")] TimerInfo timer) => journal.Ticked();
}
