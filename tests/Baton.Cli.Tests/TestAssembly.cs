using System.Runtime.CompilerServices;
using Baton.Testing;

namespace Baton.Cli.Tests;

internal static class TestAssembly
{
    // Before any test: this process's temp root, port lock folder and git isolation (TestEnvironment).
#pragma warning disable CA2255 // A test assembly is the application here.
    [ModuleInitializer]
    internal static void Initialize() => TestEnvironment.Initialize();
#pragma warning restore CA2255
}
