using System.CommandLine;
using Baton.Cli.Agents;
using Baton.Cli.Auth;
using Baton.Cli.Chat;
using Baton.Cli.Completions;
using Baton.Cli.Flows;
using Baton.Cli.Infrastructure;
using Baton.Cli.Integrations;
using Baton.Cli.Logs;
using Baton.Cli.Projects;
using Baton.Cli.Runs;
using Baton.Cli.Sessions;
using Baton.Cli.Status;
using Baton.Cli.Terminal;

var root = new RootCommand("baton: drive Baton's runs, agents, sessions, projects and terminals from your shell")
{
    LoginCommands.Login(),
    LoginCommands.Logout(),
    StatusCommand.Create(),
    LogsCommand.Create(),
    ProjectsCommands.Create(),
    AgentsCommands.Create(),
    RunCommand.Create(),
    RunsCommands.Create(),
    AttachCommand.CreateForRunOrSession(),
    SessionsCommands.Create(),
    SessionsCommands.SendShortcut(),
    NotifyCommand.Create(),
    TokensCommands.Create(),
    IntegrationsCommands.Create(),
    FlowsCommands.Create(),
    ChatCommands.Create(),
    CompletionsCommand.Create(),
};
GlobalOptions.AddTo(root);
return await CliApp.RunAsync(root, args);
