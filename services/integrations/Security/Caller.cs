using Baton.ServiceDefaults.Security;
using Grpc.Core;

namespace Baton.Integrations.Security;

/// <summary>
/// Who a request is from, as the gateway vouched for it (InternalHeaders): the user, how they
/// authenticated, and the integrations an API token is limited to.
/// </summary>
public sealed record Caller(string User, string Kind, IReadOnlySet<string>? Scopes)
{
    public static readonly Caller Anonymous = new("anonymous", "none", null);

    public bool IsAnonymous => Kind == "none" || string.IsNullOrEmpty(User) || User == "anonymous";

    public bool MayUse(string integration) => Scopes is null || Scopes.Contains(integration);

    public static Caller From(HttpContext context)
    {
        var headers = context.Request.Headers;
        var user = headers[InternalHeaders.User].ToString();
        var kind = headers[InternalHeaders.AuthKind].ToString();
        if (string.IsNullOrEmpty(user))
        {
            return Anonymous;
        }
        var scopes = headers[InternalHeaders.Scopes].ToString() is { Length: > 0 } text
            ? text.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal)
            : null;
        return new Caller(user, kind, scopes);
    }

    public static Caller From(ServerCallContext context) => From(context.GetHttpContext());

    /// <summary>The caller, who must be signed in; 401 otherwise.</summary>
    public static Caller Required(ServerCallContext context)
    {
        var caller = From(context);
        return caller.IsAnonymous ? throw new RpcException(new Status(StatusCode.Unauthenticated, "not authenticated")) : caller;
    }
}
