using Azure.Core;
using Azure.Core.Pipeline;
using Serverless.Functions.Coordination;
using Serverless.Functions.Faults;

namespace Serverless.LocalHost.Durable;

/// <summary>
/// The crash point <see cref="CrashPoint.AfterEpisodeMessagesSent"/> in the Durable engine's own storage traffic. The Azure
/// Storage backend completes an episode by sending its messages first and writing its history after; this policy, in the
/// pipelines of the engine's queue and table clients, sees the episode that decides send a work item of a phase-2 activity
/// (<c>Commit</c>, <c>Rollback</c>, or <c>RecordDecision</c>: each records the decision first), and kills the process as the
/// engine's next table write (the episode's history) is about to leave.
/// </summary>
/// <remarks>Only in the pipelines when the crash point is armed; never in a deployment.</remarks>
public sealed class EpisodeCrashPolicy(string taskHub)
{
    private readonly string _workItems = $"{taskHub.ToLowerInvariant()}-workitems";
    private int _decisionSent;

    /// <summary>The policy for the engine's queue client: watches for the decision's work item.</summary>
    public HttpPipelinePolicy Queue => new Watch(this, isQueue: true);

    /// <summary>The policy for the engine's table client: crashes before the history write that follows.</summary>
    public HttpPipelinePolicy Table => new Watch(this, isQueue: false);

    private void OnSending(Request request, bool isQueue)
    {
        if (isQueue)
        {
            if (request.Method == RequestMethod.Post
                && request.Uri.Path.EndsWith($"/{_workItems}/messages", StringComparison.Ordinal)
                && DecidesIn(Body(request)))
            {
                Volatile.Write(ref _decisionSent, 1);
            }
        }
        else if (request.Method != RequestMethod.Get && Volatile.Read(ref _decisionSent) == 1)
        {
            CrashPoints.Reached(CrashPoint.AfterEpisodeMessagesSent);
        }
    }

    /// <summary>True for the work item of an activity that records the decision (its name is the message's <c>Name</c>).</summary>
    private static bool DecidesIn(string body) =>
        body.Contains($"\"Name\":\"{nameof(TwoPhaseCommitFunctions.Commit)}\"", StringComparison.Ordinal)
        || body.Contains($"\"Name\":\"{nameof(TwoPhaseCommitFunctions.Rollback)}\"", StringComparison.Ordinal)
        || body.Contains($"\"Name\":\"{nameof(TwoPhaseCommitFunctions.RecordDecision)}\"", StringComparison.Ordinal);

    private static string Body(Request request)
    {
        if (request.Content is null)
        {
            return string.Empty;
        }

        using var buffer = new MemoryStream();
        request.Content.WriteTo(buffer, CancellationToken.None);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private sealed class Watch(EpisodeCrashPolicy owner, bool isQueue) : HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(HttpMessage message) => owner.OnSending(message.Request, isQueue);
    }
}
