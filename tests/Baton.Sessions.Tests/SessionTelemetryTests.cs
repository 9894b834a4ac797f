using System.Text.RegularExpressions;

namespace Baton.Sessions.Tests;

public sealed partial class SessionsThroughGatewayTests
{
    /// <summary>
    /// Through the whole system (AgentTelemetry is the runs service's IAgentEnvironmentContributor): a session's CLI,
    /// in either runner, starts with its own telemetry pointed at the gateway's OTLP receiver and tagged with the
    /// session id; the credential it is given opens the receiver and nothing else.
    /// </summary>
    [Fact]
    public async Task SessionCli_GetsTheOtelEnvironment_TaggedWithItsSessionId_WhoseCredentialOpensOnlyTheReceiver()
    {
        foreach (var runner in new[] { "server", "external" })
        {
            var profile = fixture.NewProfile(Bash);
            var id = await fixture.CreateSessionAsync(profile, runner);
            try
            {
                await using var socket = await fixture.ConnectAsync(id);
                // The command lines echo "E$((1+1))" and "%{http_code}"; only the shell's output has "E2:" and the values.
                await socket.SendAsync("printf '%s:%s|%s|%s|%s:E\\n' \"E$((1+1))\" \"$CLAUDE_CODE_ENABLE_TELEMETRY\" \"$OTEL_RESOURCE_ATTRIBUTES\" \"$OTEL_EXPORTER_OTLP_PROTOCOL\" \"$OTEL_LOGS_EXPORTER\"\r");
                await Baton.Testing.Eventually.WaitAsync(() => Task.FromResult(EnvironmentLine().IsMatch(socket.Text)), TimeSpan.FromSeconds(30),
                    $"the telemetry environment printed by {id} ({runner}): {socket.Text}");
                var values = EnvironmentLine().Match(socket.Text).Groups;
                Assert.Equal("1", values[1].Value);
                Assert.Equal("baton.session.id=" + Uri.EscapeDataString(id), values[2].Value);
                Assert.Equal(("http/protobuf", "otlp"), (values[3].Value, values[4].Value));

                const string Curl = "curl -s -o /dev/null -H \"${OTEL_EXPORTER_OTLP_HEADERS/=/: }\" -H 'Content-Type: application/json'";
                await socket.SendAsync($"{Curl} -w 'otlp=%{{http_code}}.\\n' --data '{{\"resourceLogs\":[]}}' \"$OTEL_EXPORTER_OTLP_ENDPOINT/v1/logs\"; "
                    + $"{Curl} -w 'api=%{{http_code}}.\\n' \"$OTEL_EXPORTER_OTLP_ENDPOINT/api/sessions\"\r");
                await socket.WaitForAsync("api=401.");
                Assert.Contains("otlp=200.", socket.Text, StringComparison.Ordinal);
            }
            finally
            {
                await fixture.DeleteSessionAsync(id);
            }
        }
    }

    [GeneratedRegex(@"E2:([^|\r\n]*)\|([^|\r\n]*)\|([^|\r\n]*)\|([^:\r\n]*):E")]
    private static partial Regex EnvironmentLine();
}
