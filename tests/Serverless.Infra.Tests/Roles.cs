namespace Serverless.Infra.Tests;

/// <summary>Built-in Azure role definition ids (the same in every tenant).</summary>
public static class Roles
{
    /// <summary>
    /// What the Functions host (keys, timer locks), the Durable Task extension's Azure Storage provider (task hub tables,
    /// queues, lease blobs), the queue triggers and the app need on their storage account, and no more.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> NarrowStorageDataRoles = new Dictionary<string, string>
    {
        ["Storage Blob Data Owner"] = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        ["Storage Queue Data Contributor"] = "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        ["Storage Table Data Contributor"] = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    };

    /// <summary>
    /// The narrow queue roles an external participant's identity gets on the coordinator's queues, each on one queue:
    /// what Microsoft's table of roles for Functions bindings names for a queue trigger (Reader, Message Processor)
    /// and a queue output (Message Sender).
    /// </summary>
    public static class Queue
    {
        /// <summary>Storage Queue Data Reader: peek and read messages, read queue properties.</summary>
        public const string DataReader = "19e7f393-937e-4f77-808e-94535e297925";

        /// <summary>Storage Queue Data Message Processor: receive (peek, hide) and delete messages.</summary>
        public const string MessageProcessor = "8a0f0c08-91a1-4084-bc3d-661d67233fed";

        /// <summary>Storage Queue Data Message Sender: add messages.</summary>
        public const string MessageSender = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a";
    }

    /// <summary>Roles that manage resources, hand out access or read account keys: never for the app.</summary>
    public static readonly IReadOnlyDictionary<string, string> Broad = new Dictionary<string, string>
    {
        ["Owner"] = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        ["Contributor"] = "b24988ac-6180-42a0-ab88-20f7382dd24c",
        ["User Access Administrator"] = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        ["Storage Account Contributor"] = "17d1049b-9a84-46fb-8f53-869881c3d3ab",
        ["Storage Account Key Operator Service Role"] = "81a9662b-bebf-436f-a333-f67b29880f12",
        ["Reader and Data Access"] = "c12c1c16-33a1-487b-954d-41c89c60f349",
    };
}
