using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Baton.Chat.Api;
using Baton.Chat.Storage;
using Baton.Contracts.Chat.V1;

namespace Baton.Chat.Sandbox;

/// <summary>The sandbox configuration of NOTES §2.4 (Clotho's Docker fields, applied to bubblewrap).</summary>
public sealed record SandboxSettings(
    [property: JsonPropertyName("enabled")] bool Enabled = false,
    [property: JsonPropertyName("memory_limit")] string MemoryLimit = "512m",
    [property: JsonPropertyName("cpu_quota")] long CpuQuota = 100_000,
    [property: JsonPropertyName("timeout_seconds")] int TimeoutSeconds = 30,
    [property: JsonPropertyName("network_enabled")] bool NetworkEnabled = false,
    [property: JsonPropertyName("workspace_mode")] string WorkspaceMode = "rw")
{
    /// <summary>"512m" → bytes; k, m, g suffixes (binary), bare numbers are bytes.</summary>
    public static long? ParseMemory(string value)
    {
        var text = value.Trim().ToLowerInvariant();
        if (text.EndsWith('b'))
        {
            text = text[..^1];
        }
        long unit = 1;
        if (text.Length > 0 && text[^1] is 'k' or 'm' or 'g')
        {
            unit = text[^1] switch { 'k' => 1L << 10, 'm' => 1L << 20, _ => 1L << 30 };
            text = text[..^1];
        }
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0 && number <= (1L << 50) / unit
            ? number * unit
            : null;
    }

    public long MemoryBytes => ParseMemory(MemoryLimit) ?? 512L << 20;

    public SandboxConfig ToMessage() => new()
    {
        Enabled = Enabled,
        MemoryLimit = MemoryLimit,
        CpuQuota = CpuQuota,
        TimeoutSeconds = TimeoutSeconds,
        NetworkEnabled = NetworkEnabled,
        WorkspaceMode = WorkspaceMode,
    };
}

/// <summary>Reads and updates the sandbox settings (a row in the settings table).</summary>
public sealed class SandboxConfigStore(ChatStore store, ChatOptions options)
{
    private const string Key = "sandbox";

    public async Task<SandboxSettings> GetAsync(CancellationToken cancellationToken)
    {
        var json = await store.GetSettingAsync(Key, cancellationToken);
        return json is null ? new SandboxSettings() : JsonSerializer.Deserialize<SandboxSettings>(json) ?? new SandboxSettings();
    }

    public async Task<SandboxSettings> UpdateAsync(UpdateSandboxRequest request, CancellationToken cancellationToken)
    {
        var current = await GetAsync(cancellationToken);
        var next = current with
        {
            Enabled = request.Enabled ?? current.Enabled,
            MemoryLimit = request.MemoryLimit ?? current.MemoryLimit,
            CpuQuota = request.CpuQuota ?? current.CpuQuota,
            TimeoutSeconds = request.TimeoutSeconds ?? current.TimeoutSeconds,
            NetworkEnabled = request.NetworkEnabled ?? current.NetworkEnabled,
            WorkspaceMode = request.WorkspaceMode ?? current.WorkspaceMode,
        };
        if (SandboxSettings.ParseMemory(Check.Require(next.MemoryLimit, "memory_limit", 32)) is null)
        {
            throw Check.Invalid($"memory_limit must be a size like \"512m\" or \"2g\": {Check.Quote(next.MemoryLimit)}");
        }
        if (next.CpuQuota is < 1000 or > 100_000_000)
        {
            throw Check.Invalid("cpu_quota must be between 1000 and 100000000 (microseconds of CPU per 100 ms)");
        }
        if (next.TimeoutSeconds is < 1 or > 86_400)
        {
            throw Check.Invalid("timeout_seconds must be between 1 and 86400");
        }
        if (next.WorkspaceMode is not ("rw" or "ro"))
        {
            throw Check.Invalid($"workspace_mode must be \"rw\" or \"ro\": {Check.Quote(next.WorkspaceMode)}");
        }
        if (next.Enabled && !current.Enabled && options.BwrapPath is null)
        {
            throw new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.FailedPrecondition,
                "cannot enable the sandbox: bubblewrap (bwrap) is not installed on the chat service's host; install it (apt-get install bubblewrap) or set BATON_BWRAP"));
        }
        await store.SetSettingAsync(Key, JsonSerializer.Serialize(next), cancellationToken);
        return next;
    }
}
