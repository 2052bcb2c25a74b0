/**
 * How the server is launched: the node flags before `bin/cc-dm.js serve`, the same for every
 * host (the plugin's .claude-plugin/plugin.json, `cc-dm setup codex|gemini`, the bench's "as the
 * plugin does"; test/unit/launch.test.ts holds plugin.json to this list). They are command-line
 * flags because V8 sizes its heap before any code runs; a re-exec would cost a second process.
 *
 * `--max-semi-space-size=1` caps the young generation at 1 MB (V8 lets it grow to 16 MB): after
 * 2,000 dms the sender holds 67 MB instead of 101 MB, and it is also the cheapest in CPU per dm
 * (a young generation that fits the cache: 451-461 µs against 573-637 µs with no flags).
 *
 * `--no-opt` (no optimizing compiler) is not used: it saved about 4 MB of an idle server (60
 * against 64 MB) and cost 20-30 % more CPU per dm (sender 594-698 against 451-461 µs; one call
 * at a time 1,073-1,126 against 1,261-1,365 msg/s), everything, the MCP SDK's zod schemas
 * included, then running in the interpreter (bench/README.md, "Launch flags").
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
