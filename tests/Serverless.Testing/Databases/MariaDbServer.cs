using System.Data.Common;
using System.Globalization;
using System.Text;
using MySqlConnector;

namespace Serverless.Testing;

/// <summary>
/// The MySQL server of the test run: the one <c>TEST_MYSQL_CONNECTION</c> names (its user may create databases), or else
/// a throwaway MariaDB that <c>scripts/mariadb.sh</c> starts and that is stopped and deleted at the end. Every test class
/// gets a database of its own.
/// </summary>
public sealed class MariaDbServer() : DatabaseServer(ConnectionVariable, Script)
{
    public const string ConnectionVariable = "TEST_MYSQL_CONNECTION";

    private static readonly ServerScript Script = new("mariadb.sh", "serverless-mdb-", "Server=", TimeSpan.FromMinutes(10));

    /// <summary>Every prepared XA branch on the server (<c>XA RECOVER</c>), as "formatID:gtrid:bqual".</summary>
    public static async Task<List<string>> PreparedXidsAsync(string connectionString)
    {
        await using var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand("XA RECOVER", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var xids = new List<string>();
        while (await reader.ReadAsync())
        {
            var gtridLength = Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture);
            var data = reader.GetValue(3) is byte[] bytes ? Encoding.ASCII.GetString(bytes) : Convert.ToString(reader.GetValue(3), CultureInfo.InvariantCulture)!;
            xids.Add($"{reader.GetValue(0)}:{data[..gtridLength]}:{data[gtridLength..]}");
        }

        return xids;
    }

    protected override string ConnectionStringFor(string database) =>
        new MySqlConnectionStringBuilder(ConnectionString) { Database = database }.ConnectionString;

    protected override DbConnection Connect(string connectionString) => new MySqlConnection(connectionString);

    protected override string Quote(string name) => $"`{name}`";

    protected override Task ClearPoolsAsync() => MySqlConnection.ClearAllPoolsAsync();
}
