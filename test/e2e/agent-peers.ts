// Shared by the end-to-end tests of Codex CLI and Gemini CLI as cc-dm peers (issue 15): cc-dm is
// installed into the test's homes by `cc-dm setup codex|gemini` itself (with the real `codex`
// on PATH, so Codex's hook trust is recorded and read back by the real binary), another session
// stands beside it (a cc-dm server driven by the MCP SDK, as Claude Code with the channel runs it),
// and the human's CLI reads the roster and traces.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Peer } from '../../src/channel/peer.js';
import { CC_DM_BIN, TempRoot, shq, waitUntil } from './harness-common.js';
import { InstalledCli } from './agent-clis.js';

/** A folder with a `codex` (and `gemini`) that runs the cached CLI: what setup finds on PATH. */
export function cliShims(env: TempRoot, clis: { codex?: InstalledCli; gemini?: InstalledCli }): string {
  const dir = path.join(env.root, 'bin');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, cli] of Object.entries(clis)) {
    if (!cli) continue;
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\nexec ${shq(process.execPath)} ${shq(cli.bin)} "$@"\n`, { mode: 0o755 });
  }
  return dir;
}

/** `cc-dm setup <host> --json` with the test's environment; returns its result. */
export async function setupHost(env: TempRoot, host: 'codex' | 'gemini', vars: Record<string, string>): Promise<any> {
  const r = await env.run(process.execPath, [CC_DM_BIN, 'setup', host, '--json'], vars, 120_000, `cc-dm setup ${host}`);
  assert.equal(r.code, 0, `cc-dm setup ${host} failed:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout).results[0];
}

/** The human's CLI against the test's store. */
export async function ccdm(env: TempRoot, args: string[], vars: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return env.run(process.execPath, [CC_DM_BIN, ...args], vars, 30_000, `cc-dm ${args[0]}`);
}

/** The roster entry of `name` (`cc-dm who --json`), if it is live. */
export async function whoEntry(env: TempRoot, name: string, vars: Record<string, string>): Promise<Record<string, any> | undefined> {
  const r = await ccdm(env, ['who', '--json'], vars);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as Record<string, any>[]).find((s) => s.name === name);
}

/** Waits until `name` shows in who with the given fields. */
export async function waitForWho(env: TempRoot, name: string, fields: Record<string, unknown>, vars: Record<string, string>, timeoutMs = 30_000): Promise<Record<string, any>> {
  let last: Record<string, any> | undefined;
  return waitUntil(
    async () => {
      last = await whoEntry(env, name, vars);
      return last && Object.entries(fields).every(([k, v]) => last![k] === v) ? last : undefined;
    },
    `${name} in who with ${JSON.stringify(fields)}`,
    timeoutMs,
    () => `last: ${JSON.stringify(last)}`,
    200,
  );
}

/** Another session beside the CLI under test: a cc-dm server with the channel, driven over MCP. */
export function startPeer(env: TempRoot, name: string): Promise<Peer> {
  return Peer.start({ home: env.ccdmHome, name, cwd: env.cwd });
}

/** A dm from the peer; returns its id and when the call was made (wall clock, ms). */
export async function peerDm(peer: Peer, to: string, content: string): Promise<{ id: string; at: number }> {
  const at = performance.timeOrigin + performance.now();
  const r = await peer.call('dm', { to, content });
  assert.equal(r.isError, false, JSON.stringify(r.body));
  return { id: r.body.message_id as string, at };
}

/** How many times message `id` was framed into a text (each delivery prints its header once). */
export function framedCount(text: string, id: string): number {
  return text.split(`cc-dm message ${id} `).length - 1;
}

/** The text of message `id` as framed: between its code's begin and end lines (unescaped where a host escaped < > &). */
export function framedText(text: string, id: string): string | undefined {
  const t = text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const m = new RegExp(`cc-dm message ${id} [^\\n]*:\\n\\[cc-dm ([0-9a-f]{12}) begin\\]\\n`).exec(t);
  if (!m) return undefined;
  const end = t.indexOf(`\n[cc-dm ${m[1]} end]`, m.index + m[0].length);
  return end < 0 ? undefined : t.slice(m.index + m[0].length, end);
}

export function summary(xs: number[]): { n: number; min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, min: Math.round(s[0] ?? 0), median: Math.round(s[Math.floor(s.length / 2)] ?? 0), max: Math.round(s[s.length - 1] ?? 0) };
}

export interface TraceView {
  message_id: string;
  recipients: { to: string; state: string; delivered_via?: string; confirmed_at?: string | null }[];
}

/** `cc-dm trace <id> --json`. */
export async function traceOf(env: TempRoot, id: string, vars: Record<string, string>): Promise<TraceView | undefined> {
  const r = await ccdm(env, ['trace', id, '--json'], vars);
  if (r.code !== 0) return undefined;
  try {
    return JSON.parse(r.stdout) as TraceView;
  } catch {
    return undefined;
  }
}

/** Waits until the delivery of `id` is confirmed from the CLI's own transcript (`where`); its trace. */
export function waitConfirmed(env: TempRoot, id: string, vars: Record<string, string>, where: string): Promise<TraceView> {
  return waitUntil(async () => {
    const x = await traceOf(env, id, vars);
    return x?.recipients[0]?.confirmed_at ? x : undefined;
  }, `${id} confirmed from ${where}`, 20_000);
}
