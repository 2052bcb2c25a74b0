#!/bin/sh
# presence.sh STATE: records what this Claude Code is doing, for cc-dm's roster (working, idle,
# approval, offline). A shell one-liner rather than node: it runs at every turn and tool call,
# and costs ~15 ms where a node start costs ~250 ms. The cc-dm server of this Claude Code (found
# by CLAUDE_PID) watches the file and carries the state into the store. The folder is made here
# if this hook runs before the server has started (SessionStart), but only inside a cc-dm home
# that exists (cc-dm makes it private, 0700): never a home of its own.
cat >/dev/null
home="${CC_DM_HOME:-$HOME/.cc-dm}"
[ -n "$CLAUDE_PID" ] && [ -d "$home" ] || exit 0
dir="$home/agents/$CLAUDE_PID"
[ -d "$home/agents" ] || mkdir -m 700 "$home/agents" 2>/dev/null
[ -d "$dir" ] || mkdir -m 700 "$dir" 2>/dev/null || exit 0
printf '%s\n' "$1" > "$dir/presence.tmp" && mv -f "$dir/presence.tmp" "$dir/presence"
exit 0
