#!/bin/sh
# FileChanged probe for framing: a file starting with "DYN:" prints a rewakeSummary JSON line
# on stdout and the text on stderr; otherwise the text on stdout. Exit 2.
input=$(cat)
f=$(printf '%s' "$input" | sed -n 's/.*"file_path":"\([^"]*\)".*/\1/p')
[ -n "$f" ] && [ -s "$f" ] || exit 0
if head -c 4 "$f" | grep -q '^DYN:'; then
  printf '{"rewakeSummary":"DYNAMIC-SUMMARY from stdout"}\n'
  cat "$f" >&2
else
  cat "$f"
fi
exit 2
