using System.Net;
using System.Net.Sockets;

namespace Serverless.Testing;

/// <summary>Hands out TCP ports on 127.0.0.1 that are free at the time of the call.</summary>
/// <remarks>
/// The port is released before it is returned, so another process can still take it before the
/// caller binds it; callers that start servers should retry on "address in use". Within this
/// process the same port is never handed out twice.
/// </remarks>
public static class FreePort
{
    private static readonly HashSet<int> HandedOut = [];
    private static readonly Lock Gate = new();

    /// <summary>Returns a loopback port nothing listens on right now.</summary>
    public static int Get()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();

            lock (Gate)
            {
                if (HandedOut.Add(port))
                {
                    return port;
                }
            }
        }

        throw new InvalidOperationException("Could not find a free TCP port on 127.0.0.1 that was not already handed out.");
    }
}
