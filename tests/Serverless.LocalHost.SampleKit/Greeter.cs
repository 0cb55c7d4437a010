namespace Serverless.LocalHost.SampleKit;

/// <summary>Greets by name with a configured word: a service the sample app registers and its functions use.</summary>
public sealed class Greeter(string greeting)
{
    public string Greet(string name) => $"{greeting}, {name}";
}

/// <summary>What the sample app's triggers have seen, in memory: the queue messages it handled and its timer's runs.</summary>
public sealed class Journal
{
    private readonly Lock _gate = new();
    private readonly List<string> _messages = [];
    private int _ticks;

    public IReadOnlyList<string> Messages
    {
        get
        {
            lock (_gate)
            {
                return [.. _messages];
            }
        }
    }

    public int Ticks => Volatile.Read(ref _ticks);

    public void Received(string message)
    {
        lock (_gate)
        {
            _messages.Add(message);
        }
    }

    public void Ticked() => Interlocked.Increment(ref _ticks);
}
