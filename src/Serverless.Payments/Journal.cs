using System.Text.Json;
using System.Text.Json.Serialization;

namespace Serverless.Payments;

/// <summary>
/// One state change, one line of <c>journal.jsonl</c>. <c>Op</c> is <c>balance</c> (set an account), <c>charge</c> (debit and
/// record), <c>decline</c>, <c>refund</c> (credit back and mark) or <c>void</c> (a refund before any charge).
/// </summary>
public sealed record JournalEntry(
    string Op,
    string? Account = null,
    long? Balance = null,
    string? Key = null,
    long? Amount = null,
    string? Reason = null);

/// <summary>
/// The append-only journal: every change is one JSON line, written and flushed to disk before the change is applied in
/// memory and answered. Not thread-safe: the store calls it under its lock.
/// </summary>
/// <remarks>
/// A crash can leave the last line torn (half written, or padded with zeros by the file system). On open such a last line
/// is ignored and cut off, so the next append starts on a clean line; a line that does not parse anywhere else means the
/// file was damaged some other way, and opening fails rather than guess. After <see cref="Append"/> throws, the change may
/// or may not be on disk: the journal tries to cut the partial line off and, if it cannot, refuses further appends.
/// (The folder itself is not fsynced when the file is first created: a demo's trade-off.)
/// </remarks>
public sealed class Journal : IDisposable
{
    public const string FileName = "journal.jsonl";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly FileStream _stream;
    private bool _broken;

    private Journal(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
    }

    /// <summary>The journal file.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens (creating it if missing) <c>{directory}/journal.jsonl</c> and returns it with its entries in order.
    /// <paramref name="tornLine"/> is true when a torn last line was found and cut off.
    /// </summary>
    /// <exception cref="InvalidDataException">A line other than the last does not parse.</exception>
    public static Journal Open(string directory, out IReadOnlyList<JournalEntry> entries, out bool tornLine)
    {
        Directory.CreateDirectory(directory);
        var path = System.IO.Path.Combine(directory, FileName);
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            var read = new List<JournalEntry>();
            var goodEnd = 0L;
            var needsNewline = false;
            tornLine = false;
            var start = 0;
            var lineNumber = 0;
            while (start < bytes.Length)
            {
                lineNumber++;
                var newline = Array.IndexOf(bytes, (byte)'\n', start);
                var end = newline < 0 ? bytes.Length : newline;
                var line = bytes.AsSpan(start, end - start);
                var last = newline < 0 || newline == bytes.Length - 1;
                if (!line.Trim((byte)'\r').IsEmpty)
                {
                    var entry = TryParse(line);
                    if (entry is null)
                    {
                        if (!last)
                        {
                            throw new InvalidDataException(
                                $"{path}: line {lineNumber} is not a journal entry, and only the last line may be torn; fix or move the file.");
                        }

                        tornLine = true;
                        break;
                    }

                    read.Add(entry);
                }

                goodEnd = newline < 0 ? bytes.Length : newline + 1;
                needsNewline = newline < 0;
                start = end + 1;
            }

            // Cut a torn line off, and end a complete last line that lost only its newline, so appends start clean.
            stream.SetLength(goodEnd);
            stream.Seek(0, SeekOrigin.End);
            if (needsNewline)
            {
                stream.WriteByte((byte)'\n');
            }

            if (tornLine || needsNewline)
            {
                stream.Flush(flushToDisk: true);
            }

            entries = read;
            return new Journal(path, stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Writes <paramref name="entry"/> as one line and flushes it to disk; returns once it is durable.</summary>
    public void Append(JournalEntry entry)
    {
        if (_broken)
        {
            throw new InvalidOperationException($"{Path}: an earlier append failed and could not be undone; restart the service.");
        }

        var line = JsonSerializer.SerializeToUtf8Bytes(entry, Json);
        var bytes = new byte[line.Length + 1];
        line.CopyTo(bytes, 0);
        bytes[^1] = (byte)'\n';

        var before = _stream.Length;
        try
        {
            _stream.Write(bytes);
            _stream.Flush(flushToDisk: true);
        }
        catch
        {
            try
            {
                _stream.SetLength(before);
                _stream.Seek(0, SeekOrigin.End);
                _stream.Flush(flushToDisk: true);
            }
            catch
            {
                // A partial line may stay in the file: another append after it would be a torn line in the middle.
                _broken = true;
            }

            throw;
        }
    }

    public void Dispose() => _stream.Dispose();

    private static JournalEntry? TryParse(ReadOnlySpan<byte> line)
    {
        try
        {
            var entry = JsonSerializer.Deserialize<JournalEntry>(line, Json);
            return entry is { Op.Length: > 0 } ? entry : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
