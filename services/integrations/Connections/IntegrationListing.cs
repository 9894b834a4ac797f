using Baton.Contracts.Integrations.V1;
using Baton.Integrations.Configuration;
using Baton.Integrations.Security;

namespace Baton.Integrations.Connections;

/// <summary><c>GET /api/v1/integrations</c>: every configured integration with the caller's connection state (NOTES §3.3).</summary>
public static class IntegrationListing
{
    public static async Task<IntegrationList> ListAsync(IntegrationsSettings settings, ConnectionService connections, Caller caller, CancellationToken cancellationToken)
    {
        var list = new IntegrationList();
        var stored = await StoredAsync(connections, caller, cancellationToken);
        foreach (var integration in settings.Integrations.Values.OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            var item = new Integration
            {
                Name = integration.Name,
                DisplayName = integration.DisplayName,
                Description = integration.Description,
                IconSvg = integration.IconSvg,
            };
            var instances = stored.Where(s => s.Integration == integration.Name).ToList();
            item.Instances.AddRange(instances.Select(s => new Instance { Name = s.Instance, Connection = s.Connection }));
            item.Connected = instances.Count > 0 || integration.Connections.Values.All(c => !c.NeedsCredentials);
            item.AuthTypes.AddRange(integration.AuthTypes);
            var defaultConnection = integration.Connections[integration.DefaultConnection];
            foreach (var (name, parameter) in defaultConnection.Params.Where(p => string.IsNullOrEmpty(p.Value.From)))
            {
                item.ConnectionParams[name] = new ConnectionParam { Required = parameter.Required ?? false, Description = parameter.Description ?? "", Default = parameter.Default ?? "" };
            }
            item.CredentialFields.AddRange(defaultConnection.CredentialFields.Select(ToProto));
            foreach (var connection in integration.Connections.Values)
            {
                var info = new Baton.Contracts.Integrations.V1.ConnectionInfo { Name = connection.Name };
                info.AuthTypes.AddRange(connection.UserFacingAuthTypes);
                info.CredentialFields.AddRange(connection.CredentialFields.Select(ToProto));
                item.Connections.Add(info);
            }
            list.Integrations.Add(item);
        }
        return list;
    }

    private static Task<IReadOnlyList<Storage.StoredConnection>> StoredAsync(ConnectionService connections, Caller caller, CancellationToken cancellationToken) =>
        connections.ListStoredAsync(caller, cancellationToken);

    private static CredentialField ToProto(CredentialFieldDef field) => new()
    {
        Name = field.Name ?? "",
        Label = field.Label ?? field.Name ?? "",
        Description = field.Description ?? "",
        HelpUrl = field.HelpUrl ?? "",
    };
}
