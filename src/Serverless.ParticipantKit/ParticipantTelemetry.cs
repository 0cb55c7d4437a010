using System.Diagnostics;
using Serverless.Core.Messaging;

namespace Serverless.ParticipantKit;

/// <summary>The kit's traces: a span per command handled, a child of the span that sent it (its trace context travels in the signed command).</summary>
public static class ParticipantTelemetry
{
    /// <summary>The name of the kit's activity source, for an app's tracing setup (<c>AddSource</c>).</summary>
    public const string SourceName = "Serverless.ParticipantKit";

    /// <summary>The tag naming the transaction.</summary>
    public const string TransactionIdTag = "transaction.id";

    /// <summary>The tag naming the participant.</summary>
    public const string ParticipantTag = "transaction.participant";

    private static readonly ActivitySource Source = new(SourceName);

    /// <summary>The span of <paramref name="participant"/> handling <paramref name="command"/>.</summary>
    public static Activity? StartHandling(ProtocolMessage command, string participant)
    {
        ArgumentNullException.ThrowIfNull(command);
        ActivityContext.TryParse(command.TraceParent, null, isRemote: true, out var parent);
        var activity = Source.StartActivity($"{command.Kind.ToString().ToLowerInvariant()} {participant}", ActivityKind.Consumer, parent);
        activity?.SetTag(TransactionIdTag, command.TransactionId);
        activity?.SetTag(ParticipantTag, participant);
        activity?.SetTag("transaction.branch", command.Branch);
        return activity;
    }
}
