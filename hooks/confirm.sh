#!/bin/sh
# confirm.sh: the UserPromptSubmit and Stop hooks' gate for `cc-dm hook confirm`. That hook
# confirms mail a FileChanged hook handed to the model and rings again for mail a lost ring left
# waiting; it has work only when a claim waits to be confirmed (`claims`, set by the hook that
# claimed) or the bell rang since it last looked (`seen`: the bell's size then). Otherwise this
# exits in a few ms instead of starting node (100-250 ms of CPU, twice a prompt, in the Stop
# hook's path). Where it cannot tell (no folder for this Claude Code yet), node runs.
home="${CC_DM_HOME:-$HOME/.cc-dm}"
[ -n "$CLAUDE_PID" ] && [ -d "$home" ] || { cat >/dev/null; exit 0; }
dir="$home/agents/$CLAUDE_PID"
if [ -d "$dir" ] && [ ! -e "$dir/claims" ]; then
  size=0
  [ -f "$dir/bell" ] && size=$(($(wc -c <"$dir/bell")))
  seen=$(cat "$dir/seen" 2>/dev/null)
  [ "$size" -eq "${seen:--1}" ] 2>/dev/null && { cat >/dev/null; exit 0; }
fi
exec node "$(dirname "$0")/../bin/cc-dm.js" hook confirm
