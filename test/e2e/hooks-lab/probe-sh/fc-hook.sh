#!/bin/sh
# FileChanged probe: log the input with the time, print the changed file and exit 2 when it is
# not empty (the asyncRewake wake), else exit 0.
t=$(date +%s%3N)
input=$(cat)
printf '{"label":"fc","t":%s,"input":%s}\n' "$t" "$input" >> "$SPIKE_LOG"
f=$(printf '%s' "$input" | sed -n 's/.*"file_path":"\([^"]*\)".*/\1/p')
if [ -n "$f" ] && [ -s "$f" ]; then cat "$f"; exit 2; fi
exit 0
