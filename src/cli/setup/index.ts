/** `cc-dm setup [hosts...]` and `cc-dm setup --undo [hosts...]`: every host's setup, one shape. */
import { CcDmError } from '../../errors.js';
import type { Config } from '../../config.js';
import { claudeSetup } from './claude.js';
import { codexSetup } from './codex.js';
import { geminiSetup } from './gemini.js';
import { readState, writeState, type HostSetup, type SetupResult } from './common.js';

/** The hosts cc-dm can set up. */
export const HOSTS: readonly HostSetup<any>[] = [claudeSetup, codexSetup, geminiSetup];

export async function runSetup(
  cfg: Config,
  o: { hosts: string[]; undo: boolean; force: boolean; say: (line: string) => void },
): Promise<SetupResult[]> {
  const state = readState(cfg);
  const unknown = o.hosts.filter((h) => !HOSTS.some((x) => x.host === h));
  if (unknown.length)
    throw new CcDmError('E_INVALID', `cc-dm cannot set up ${unknown.join(', ')}: it knows ${HOSTS.map((h) => h.host).join(', ')}.`);
  const ctx = { cfg, force: o.force, say: o.say };
  const results: SetupResult[] = [];
  if (o.undo) {
    const hosts = o.hosts.length ? o.hosts : Object.keys(state);
    for (const host of hosts) {
      const setup = HOSTS.find((h) => h.host === host);
      const record = state[host];
      if (!setup || record === undefined) {
        results.push({ host, changed: [], kept: [], launch: [], notes: [`nothing to undo: cc-dm setup ${host} has not run here`] });
        continue;
      }
      o.say(`${setup.title}: undoing cc-dm setup`);
      results.push(await setup.undo(ctx, record));
      delete state[host];
      writeState(cfg, state);
    }
    if (hosts.length === 0)
      results.push({ host: '', changed: [], kept: [], launch: [], notes: ['nothing to undo: cc-dm setup has not run here'] });
    return results;
  }
  // No host named: every agent CLI found here (Claude Code always, as before).
  const chosen = o.hosts.length ? o.hosts : HOSTS.filter((h) => !h.present || h.present(ctx)).map((h) => h.host);
  for (const host of chosen) {
    const setup = HOSTS.find((h) => h.host === host)!;
    o.say(`${setup.title}: setting up cc-dm`);
    const { result, record } = await setup.setup(ctx, state[host]);
    state[host] = record;
    writeState(cfg, state);
    results.push(result);
  }
  return results;
}
