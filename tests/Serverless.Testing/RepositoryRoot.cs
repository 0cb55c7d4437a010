namespace Serverless.Testing;

/// <summary>Locates the repository checkout the tests run from.</summary>
public static class RepositoryRoot
{
    /// <summary>The file that marks the repository root.</summary>
    public const string MarkerFileName = "Serverless.sln";

    /// <summary>
    /// Walks up from <see cref="AppContext.BaseDirectory"/> (the test's bin folder) to the folder
    /// holding <c>Serverless.sln</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No ancestor folder holds the solution file.</exception>
    public static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, MarkerFileName)))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException(
            $"Could not find the repository root: no folder above '{AppContext.BaseDirectory}' holds {MarkerFileName}.");
    }
}
