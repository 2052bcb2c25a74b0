// Spike probes for issue 14, run one at a time by hand (never by the test runner):
//   npx tsc -p tsconfig.json && node dist/test/e2e/hooks-prototype/probes.js <probe> [args]
// Each probe prints what it measured as JSON and keeps its temp root (requests, hook logs,
// screens) in /tmp/spike-results/<probe>-<time>/.
import fs from 'node:fs';
import path from 'node:path';
import { E2eEnv, InteractiveSession, delay, waitUntil } from '../claude.js';
import { RecordedRequest, Script, isMainLoopRequest, messagesText, toolUses, toolResults } from '../standin.js';
import { HooksConfig, PROTO_DIR, installTestPlugin, loadavg, mainRequests, readJsonl, startPlain, summary, trailingUserContent, writeUserSettings } from './lab.js';

const RESULTS = '/tmp/spike-results';

interface Ctx {
  env: E2eEnv;
  out: string;
  hookLog: string;
  note(k: string, v: unknown): void;
  notes: Record<string, unknown>;
  screens: Record<string, string>;
}

function probeCmd(label: string, extra = ''): string {
  return `node "\${CLAUDE_PLUGIN_ROOT}/probe.mjs" ${label} ${extra}`.trim();
}

async function withLab(name: string, fn: (c: Ctx) => Promise<void>): Promise<void> {
  fs.mkdirSync(RESULTS, { recursive: true });
  const env = await E2eEnv.create(`lab-${name}`, { installPlugin: false });
  const out = path.join(RESULTS, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(out, { recursive: true });
  const notes: Record<string, unknown> = { probe: name, loadavgStart: loadavg() };
  const ctx: Ctx = {
    env,
    out,
    hookLog: path.join(out, 'hooks.jsonl'),
    notes,
    screens: {},
    note(k, v) {
      notes[k] = v;
    },
  };
  let failed = false;
  try {
    await fn(ctx);
  } catch (e) {
    failed = true;
    notes.error = String((e as Error)?.stack ?? e);
  } finally {
    notes.loadavgEnd = loadavg();
    fs.writeFileSync(path.join(out, 'notes.json'), JSON.stringify(notes, null, 1));
    fs.writeFileSync(path.join(out, 'screens.txt'), Object.entries(ctx.screens).map(([k, v]) => `===== ${k}\n${v}`).join('\n'));
    // keep the env root's logs next to the results
    process.env.CC_DM_E2E_KEEP = '1';
    await env.cleanup(failed);
    for (const f of fs.readdirSync(env.root)) {
      if (/^(requests-|debug-|stderr-|launch-)/.test(f)) fs.copyFileSync(path.join(env.root, f), path.join(out, f));
    }
    fs.rmSync(env.root, { recursive: true, force: true });
    process.stdout.write(JSON.stringify(notes, null, 1) + '\n');
    process.stdout.write(`results in ${out}\n`);
  }
}

function sessionEnv(c: Ctx, extra: Record<string, string> = {}): Record<string, string> {
  return { SPIKE_LOG: c.hookLog, ...extra };
}

const okScript: Script = () => ({ text: 'OK.' });

/** A main-loop request's trailing user content, short. */
function trailing(r: RecordedRequest): unknown {
  return trailingUserContent(r);
}

const probes: Record<string, (argv: string[]) => Promise<void>> = {
  /** Q1 + Q9 + Q7 basics: asyncRewake from SessionStart with and without rewakeMessage/Summary. */
  async rewake() {
    await withLab('rewake', async (c) => {
      const hooks: HooksConfig = {
        SessionStart: [
          { hooks: [{ type: 'command', command: probeCmd('SessionStart'), timeout: 10 }] },
          { hooks: [{ type: 'command', command: probeCmd('rw-plain', '--sleep 8000 --out REWAKE-PLAIN-STDOUT --exit 2'), asyncRewake: true, timeout: 60 }] },
          {
            hooks: [{
              type: 'command', command: probeCmd('rw-framed', '--sleep 16000 --out REWAKE-FRAMED-STDOUT --exit 2'), asyncRewake: true, timeout: 60,
              rewakeMessage: 'cc-dm message follows:', rewakeSummary: 'cc-dm: 1 new message',
            }],
          },
          { hooks: [{ type: 'command', command: probeCmd('rw-both', '--sleep 24000 --out REWAKE-BOTH-STDOUT --err REWAKE-BOTH-STDERR --exit 2'), asyncRewake: true, timeout: 60 }] },
          { hooks: [{ type: 'command', command: probeCmd('rw-exit0', '--sleep 4000 --out REWAKE-EXIT0-STDOUT --exit 0'), asyncRewake: true, timeout: 60 }] },
          { hooks: [{ type: 'command', command: probeCmd('rw-exit1', '--sleep 5000 --out REWAKE-EXIT1-STDOUT --err REWAKE-EXIT1-STDERR --exit 1'), asyncRewake: true, timeout: 60 }] },
          { hooks: [{ type: 'command', command: probeCmd('async-exit2', '--sleep 6000 --out ASYNC-EXIT2-STDOUT --exit 2'), async: true, timeout: 60 }] },
        ],
        UserPromptSubmit: [{ hooks: [{ type: 'command', command: probeCmd('UserPromptSubmit') }] }],
        Stop: [{ hooks: [{ type: 'command', command: probeCmd('Stop') }] }],
        Notification: [{ hooks: [{ type: 'command', command: probeCmd('Notification') }] }],
        SessionEnd: [{ hooks: [{ type: 'command', command: probeCmd('SessionEnd') }] }],
      };
      await installTestPlugin(c.env, { name: 'spike', hooks, files: [[path.join(PROTO_DIR, 'probe.mjs'), 'probe.mjs']] });
      const s = await startPlain(c.env, { name: 'rw', identityEnv: false, env: sessionEnv(c), script: okScript });
      c.screens.start = s.screen();
      const t0 = Date.now();
      await waitUntil(() => mainRequests(s.standin.requests).some((r) => messagesText(r).includes('REWAKE-BOTH')), 'the third rewake', 60_000, () => s.describe());
      await delay(3000);
      c.screens.afterRewakes = s.screen();
      c.note('mainRequests', mainRequests(s.standin.requests).map((r) => ({ seq: r.seq, dt: Math.round(r.at - t0), trailing: trailing(r) })));
      s.type('hello there PROMPT-1');
      await s.standin.waitForRequest((r) => isMainLoopRequest(r) && messagesText(r).includes('PROMPT-1'), 'prompt 1');
      await delay(2000);
      c.screens.afterPrompt = s.screen();
      await s.stop();
      await delay(1000);
      c.note('hookLog', readJsonl(c.hookLog));
    });
  },
};

const which = process.argv[2];
if (which) {
  const p = probes[which];
  if (!p) {
    process.stderr.write(`unknown probe ${which}; probes: ${Object.keys(probes).join(', ')}\n`);
    process.exit(2);
  }
  await p(process.argv.slice(3));
}
export {};
void toolUses;
void toolResults;
