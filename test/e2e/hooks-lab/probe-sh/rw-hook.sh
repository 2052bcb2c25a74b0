#!/bin/sh
# FileChanged probe for replaced files: on "unlink", answer with a changed watchPaths list (the
# bell plus a dummy path) so Claude Code rebuilds its watcher; otherwise as fc-hook.sh.
t=$(date +%s%3N)
input=$(cat)
printf '{"label":"rw","t":%s,"input":%s}\n' "$t" "$input" >> "$SPIKE_LOG"
f=$(printf '%s' "$input" | sed -n 's/.*"file_path":"\([^"]*\)".*/\1/p')
ev=$(printf '%s' "$input" | sed -n 's/.*"event":"\([^"]*\)".*/\1/p')
if [ "$ev" = unlink ] && [ -n "$SPIKE_REWATCH" ]; then
  printf '{"hookSpecificOutput":{"hookEventName":"FileChanged","watchPaths":["%s","%s.rewatch-%s"]}}\n' "$f" "$f" "$t"
  exit 0
fi
if [ -n "$f" ] && [ -s "$f" ]; then cat "$f"; exit 2; fi
exit 0
