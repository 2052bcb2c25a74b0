#!/bin/sh
# presence.sh STATE: records what this Claude Code is doing, for cc-dm's roster (working, idle,
# approval, offline). A shell one-liner rather than node: it runs at every turn and tool call,
# and costs ~15 ms where a node start costs ~250 ms. The cc-dm server of this Claude Code (found
# by CLAUDE_PID) watches the file and carries the state into the store; without one, nothing.
cat >/dev/null
dir="${CC_DM_HOME:-$HOME/.cc-dm}/agents/${CLAUDE_PID:-none}"
[ -d "$dir" ] || exit 0
printf '%s\n' "$1" > "$dir/presence.tmp" && mv -f "$dir/presence.tmp" "$dir/presence"
exit 0
