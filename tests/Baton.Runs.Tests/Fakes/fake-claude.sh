#!/usr/bin/env bash
# Stands in for `claude -p <task> --output-format stream-json --verbose …` (NOTES §7): prints the
# same stream-json lines and runs the hook commands of the --settings file like the real CLI.
# Without -p it is the interactive UI: it fires UserPromptSubmit and Stop for every line typed,
# answers "you said: <line>", and on /exit fires SessionEnd and exits.
# In print mode, behaviour is chosen by words in the prompt:
#   SLEEP     start a background child (pid written to $FAKE_STATE_DIR/child.pid) and wait forever
# It writes files only under $FAKE_STATE_DIR (resume.log, hooks.out, cli.pid, child.pid); unset, none.
#   FAIL      report an error result and exit 1
#   STOPFAIL  fire StopFailure, then (after a moment) print an error result and exit 1
#   TASKS     TaskCreate/TaskUpdate tool calls
#   ATTENTION a permission_prompt Notification
#   TOKENS:N  N streamed text tokens
#   UNKNOWN   an unknown hook event
set -u
PROMPT=""; SETTINGS=""; RESUME=""; MODEL="claude-sonnet-4-6"
while [ $# -gt 0 ]; do
  case "$1" in
    -p) PROMPT="$2"; shift 2 ;;
    --settings) SETTINGS="$2"; shift 2 ;;
    --resume) RESUME="$2"; shift 2 ;;
    --model) MODEL="$2"; shift 2 ;;
    --output-format|--allowedTools|--max-turns|--append-system-prompt|--add-dir) shift 2 ;;
    *) shift ;;
  esac
done
STATE="${FAKE_STATE_DIR:-}"
HOOKS_OUT=/dev/null
[ -n "$STATE" ] && HOOKS_OUT="$STATE/hooks.out"
if [ -n "$RESUME" ]; then SESSION="$RESUME"; else SESSION="sess-$(cat /proc/sys/kernel/random/uuid)"; fi
printf '%s\n' "$*" > /dev/null
[ -n "$STATE" ] && echo "${RESUME:-}" >> "$STATE/resume.log"

jstr() { jq -n --arg v "$1" '$v'; }
base() { printf '"session_id":"%s","transcript_path":"/tmp/t.jsonl","cwd":%s,"permission_mode":"default","hook_event_name":"%s"' "$SESSION" "$(jstr "$PWD")" "$1"; }
hook() {
  [ -z "$SETTINGS" ] && return 0
  local event="$1" body="$2"
  jq -r --arg e "$event" '.hooks[$e][]?.hooks[]?.command' "$SETTINGS" | while IFS= read -r cmd; do
    printf '%s' "$body" | sh -c "$cmd -w ' HTTP%{http_code}'" >> "$HOOKS_OUT" 2>&1; echo >> "$HOOKS_OUT"
  done
}
emit() { printf '%s\n' "$1"; }

if [ -z "$PROMPT" ]; then
  echo "fake-claude interactive, session $SESSION"
  hook SessionStart "{$(base SessionStart),\"source\":\"resume\",\"model\":\"$MODEL\"}"
  while IFS= read -r line; do
    case "$line" in
      /exit)
        hook SessionEnd "{$(base SessionEnd),\"reason\":\"prompt_input_exit\"}"
        exit 0 ;;
      *)
        hook UserPromptSubmit "{$(base UserPromptSubmit),\"prompt\":$(jstr "$line")}"
        echo "you said: $line"
        hook Stop "{$(base Stop),\"stop_hook_active\":false,\"last_assistant_message\":$(jstr "you said: $line")}" ;;
    esac
  done
  exit 0
fi

emit "{\"type\":\"system\",\"subtype\":\"init\",\"cwd\":$(jstr "$PWD"),\"session_id\":\"$SESSION\",\"tools\":[\"Read\",\"Edit\",\"Write\"],\"model\":\"$MODEL\",\"permissionMode\":\"default\",\"claude_code_version\":\"2.1.328\"}"
hook SessionStart "{$(base SessionStart),\"source\":\"$([ -n "$RESUME" ] && echo resume || echo startup)\",\"model\":\"$MODEL\"}"
hook UserPromptSubmit "{$(base UserPromptSubmit),\"prompt\":$(jstr "$PROMPT")}"

tokens=3
case "$PROMPT" in *TOKENS:*) tokens="${PROMPT##*TOKENS:}"; tokens="${tokens%% *}" ;; esac
for ((i = 0; i < tokens; i++)); do
  emit "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"t$i \"}},\"session_id\":\"$SESSION\"}"
done

# One real tool use: write a file in the worktree.
echo "$PROMPT" >> fake-output.txt
hook PreToolUse "{$(base PreToolUse),\"tool_name\":\"Write\",\"tool_input\":{\"file_path\":\"fake-output.txt\",\"content\":$(jstr "$PROMPT")},\"tool_use_id\":\"toolu_w1\"}"
emit "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"$MODEL\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_w1\",\"name\":\"Write\",\"input\":{\"file_path\":\"fake-output.txt\"}}]},\"session_id\":\"$SESSION\"}"
hook PostToolUse "{$(base PostToolUse),\"tool_name\":\"Write\",\"tool_input\":{\"file_path\":\"fake-output.txt\"},\"tool_response\":{\"type\":\"create\",\"filePath\":\"fake-output.txt\"},\"tool_use_id\":\"toolu_w1\"}"
emit "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_w1\",\"content\":\"ok\"}]},\"session_id\":\"$SESSION\"}"

case "$PROMPT" in *TASKS*)
  n=0
  for subject in "Write code" "Write tests" "Drop me"; do
    n=$((n + 1))
    hook PreToolUse "{$(base PreToolUse),\"tool_name\":\"TaskCreate\",\"tool_input\":{\"subject\":\"$subject\",\"description\":\"About $subject\"},\"tool_use_id\":\"toolu_c$n\"}"
    hook PostToolUse "{$(base PostToolUse),\"tool_name\":\"TaskCreate\",\"tool_input\":{\"subject\":\"$subject\"},\"tool_response\":{\"task\":{\"id\":\"$n\",\"subject\":\"$subject\"}},\"tool_use_id\":\"toolu_c$n\"}"
  done
  hook PreToolUse "{$(base PreToolUse),\"tool_name\":\"TaskUpdate\",\"tool_input\":{\"taskId\":\"1\",\"status\":\"completed\"},\"tool_use_id\":\"toolu_u1\"}"
  hook PreToolUse "{$(base PreToolUse),\"tool_name\":\"TaskUpdate\",\"tool_input\":{\"taskId\":\"2\",\"status\":\"in_progress\"},\"tool_use_id\":\"toolu_u2\"}"
  hook PreToolUse "{$(base PreToolUse),\"tool_name\":\"TaskUpdate\",\"tool_input\":{\"taskId\":\"3\",\"status\":\"deleted\"},\"tool_use_id\":\"toolu_u3\"}"
  ;;
esac
case "$PROMPT" in *ATTENTION*)
  hook Notification "{$(base Notification),\"notification_type\":\"permission_prompt\",\"message\":\"Claude needs your permission to use Bash\",\"title\":\"Permission\"}" ;;
esac
case "$PROMPT" in *UNKNOWN*)
  hook PreToolUse "{$(base FutureHookEvent),\"something\":42}" ;;
esac
case "$PROMPT" in *SLEEP*)
  if [ -z "$RESUME" ]; then
    # child.pid is what tests wait for, so it is written last.
    [ -n "$STATE" ] && echo $$ > "$STATE/cli.pid"
    sleep 300 &
    [ -n "$STATE" ] && echo $! > "$STATE/child.pid"
    wait
  fi ;;
esac

TEXT="Done: $PROMPT"
[ -n "$RESUME" ] && TEXT="Resumed: $PROMPT"
emit "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"$MODEL\",\"content\":[{\"type\":\"text\",\"text\":$(jstr "$TEXT")}]},\"session_id\":\"$SESSION\"}"
case "$PROMPT" in *STOPFAIL*)
  hook StopFailure "{$(base StopFailure),\"error\":\"rate_limit\",\"error_details\":\"429 rate limited\",\"last_assistant_message\":\"API Error: rate limited\"}"
  sleep 1
  emit "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"num_turns\":1,\"result\":\"API Error: rate limited\",\"session_id\":\"$SESSION\",\"total_cost_usd\":0,\"usage\":{\"input_tokens\":10,\"output_tokens\":0},\"duration_ms\":5}"
  exit 1 ;;
esac
case "$PROMPT" in *FAIL*)
  emit "{\"type\":\"result\",\"subtype\":\"error_during_execution\",\"is_error\":true,\"num_turns\":1,\"result\":\"boom: the model refused\",\"session_id\":\"$SESSION\",\"total_cost_usd\":0.001,\"usage\":{\"input_tokens\":10,\"output_tokens\":1},\"duration_ms\":5}"
  exit 1 ;;
esac
emit "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":2,\"result\":$(jstr "$TEXT"),\"session_id\":\"$SESSION\",\"total_cost_usd\":0.0123,\"usage\":{\"input_tokens\":120,\"output_tokens\":45,\"cache_read_input_tokens\":0},\"duration_ms\":42}"
hook Stop "{$(base Stop),\"stop_hook_active\":false,\"last_assistant_message\":$(jstr "$TEXT")}"
hook SessionEnd "{$(base SessionEnd),\"reason\":\"other\"}"
exit 0
