/**
 * Every host launches the server the same way (src/launch.ts): the plugin's manifest, which
 * Claude Code reads and the bench follows, carries exactly those node flags.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/cli/setup/common.js';
import { SERVER_NODE_FLAGS } from '../../src/launch.js';

test('the plugin launches the server with the node flags of src/launch.ts, and without --no-opt', () => {
  const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, '.claude-plugin', 'plugin.json'), 'utf8'));
  const server = manifest.mcpServers['cc-dm'];
  assert.equal(server.command, 'node');
  assert.deepEqual(server.args, [...SERVER_NODE_FLAGS, '${CLAUDE_PLUGIN_ROOT}/bin/cc-dm.js', 'serve']);
  assert.ok(!SERVER_NODE_FLAGS.includes('--no-opt'), '--no-opt costs 20-30 % more CPU per dm for 4 MB (src/launch.ts)');
});
