using Grpc.Core;
using LibGit2Sharp;

namespace Baton.Git.Infrastructure;

/// <summary>The one place where libgit2's and the git CLI's exceptions for bad input become 400/404/409 instead of 500.</summary>
public static class GitErrors
{
    public static Status? Map(Exception exception) => exception switch
    {
        InvalidSpecificationException ex => new Status(StatusCode.InvalidArgument, $"invalid git reference or revision: {ex.Message}"),
        NotFoundException ex => new Status(StatusCode.NotFound, ex.Message),
        NameConflictException ex => new Status(StatusCode.AlreadyExists, ex.Message),
        CheckoutConflictException or LockedFileException or NonFastForwardException or MergeFetchHeadNotFoundException
            => new Status(StatusCode.Aborted, exception.Message),
        AmbiguousSpecificationException ex => new Status(StatusCode.InvalidArgument, $"ambiguous git revision: {ex.Message}"),
        _ => null,
    };
}
