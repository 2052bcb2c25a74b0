// Shared checks for the e2e test files.

import fs from 'node:fs';
import path from 'node:path';
import { CC_DM_BIN, CLAUDE_BIN, E2eEnv, REPO_ROOT, ensureTmux } from './claude.js';

/**
 * Fail early (never skip silently) when something the e2e tests need is missing: tmux is
 * installed with apt-get if possible, the rest names the command to run.
 */
export function requirePrerequisites(): void {
  const missing: string[] = [];
  if (!fs.existsSync(CLAUDE_BIN)) missing.push(`${CLAUDE_BIN} (run: npm install)`);
  if (!fs.existsSync(CC_DM_BIN)) missing.push(`${CC_DM_BIN}`);
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'))) missing.push('the build in dist/ (run: npm run build)');
  if (missing.length) throw new Error(`e2e prerequisites missing: ${missing.join('; ')}`);
  ensureTmux();
}

export interface TraceView {
  message_id: string;
  from: string;
  sender_kind: string;
  recipients: { to: string; state: string; delivered_at?: string; delivered_via?: string; confirmed_at?: string | null }[];
}

/** `cc-dm trace <id> --json` against the test's store. */
export async function trace(env: E2eEnv, messageId: string): Promise<TraceView | undefined> {
  const r = await env.ccdm(['trace', messageId, '--json']);
  if (r.code !== 0) return undefined;
  try {
    return JSON.parse(r.stdout) as TraceView;
  } catch {
    return undefined;
  }
}

/** Delivery state per recipient name of a message, from the store. */
export async function deliveryStates(env: E2eEnv, messageId: string): Promise<Record<string, string>> {
  const t = await trace(env, messageId);
  const out: Record<string, string> = {};
  for (const r of t?.recipients ?? []) out[r.to] = r.state;
  return out;
}
