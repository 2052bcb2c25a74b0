#!/bin/sh
# presence.sh STATE: record this session's state from a hook (cheap: no node start-up).
# working (UserPromptSubmit, PostToolUse), idle (Stop, Notification idle_prompt),
# waiting_for_approval (PermissionRequest, Notification permission_prompt), offline (SessionEnd).
cat >/dev/null
dir="${CCDM_PROTO_HOME:-$HOME/.cc-dm-proto}/presence"
[ -d "$dir" ] || mkdir -p "$dir"
id="${CLAUDE_CODE_SESSION_ID:-unknown}"
printf '{"state":"%s","at":%s,"claude_pid":%s,"name":"%s"}\n' "$1" "$(date +%s%3N)" "${CLAUDE_PID:-0}" "${CC_DM_SESSION_NAME:-}" > "$dir/$id.json.tmp" && mv -f "$dir/$id.json.tmp" "$dir/$id.json"
exit 0
