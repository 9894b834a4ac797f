using Baton.Contracts.Common.V1;
using Baton.ServiceDefaults.Configuration;
using Google.Protobuf.WellKnownTypes;

namespace Baton.ServiceDefaults.Hosting;

public static class StatusReporter
{
    /// <summary>The common part of every service's GetStatus answer; the service adds its counters.</summary>
    public static ServiceStatus Describe(BatonOptions options)
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return new ServiceStatus
        {
            Service = options.ServiceName,
            Version = BuildInfo.Version,
            Commit = BuildInfo.Commit,
            StartedAt = Timestamp.FromDateTimeOffset(BuildInfo.StartedAt),
            RssBytes = process.WorkingSet64,
            DataDir = options.ServiceDataDir,
        };
    }
}
