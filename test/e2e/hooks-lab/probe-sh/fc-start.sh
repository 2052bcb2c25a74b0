#!/bin/sh
# SessionStart probe: watch $SPIKE_WATCH (one or more paths, separated by ':').
cat >/dev/null
paths=$(printf '%s' "$SPIKE_WATCH" | awk -F: '{for(i=1;i<=NF;i++){printf "%s\"%s\"", (i>1?",":""), $i}}')
printf '{"hookSpecificOutput":{"hookEventName":"SessionStart","watchPaths":[%s]}}\n' "$paths"
