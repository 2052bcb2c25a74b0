/**
 * `cc-dm wait`: how an idle Gemini CLI session is woken. Gemini CLI shows no MCP notification and
 * its hooks run only during a turn; but with `experimental.modelSteering: true` and
 * `tools.shell.backgroundCompletionBehavior: "inject"` in its settings, a command the model started
 * in the background (`run_shell_command` with `is_background: true`) that finishes while the
 * session is idle starts a new turn carrying its output (measured: 0.4-1.6 s from its exit to the
 * model request, test/e2e/AGENT-CLIS.md). So the model starts this command at its first turn (its
 * identity note says how), and again each time it finishes.
 *
 * It finds its session through the Gemini CLI process among its ancestors (the shell tool runs it
 * as that process's grandchild), records itself on the session (`who` then shows the wake path),
 * and blocks: inotify on the session's bell (the server rings it when mail arrives) and a slow
 * poll. When mail waits and the session is not in the middle of a turn (a busy session gets its
 * mail from its hooks), it prints one fixed line and exits: the woken turn's BeforeAgent hook
 * claims and shows the mail itself. It never prints anything else, and ends silently when its
 * session does (Gemini CLI exits, or the session ends); any output, even an error, would start a
 * turn. After an announcement, the next one waits for the session's hooks to report (the woken
 * turn ran) or a minute, so a session whose hooks do not take its mail is not woken in a loop.
 */
import { existsSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '../bus/liveness.js';
import type { Bus } from '../bus/bus.js';
import type { AgentRef } from '../bus/hook.js';
import { openBus } from '../bus/open.js';
import { loadConfig, type Config } from '../config.js';
import { createLogger, errorText } from '../log.js';
import { nearestAgent } from '../procfs.js';
import { agentDir } from '../wake/bell.js';
import { waitCommand } from './hook-main.js';

/** The fallback poll: a ring lost, a turn that ended (presence), the session gone. */
const POLL_MS = 1_000;
/**
 * A session that has said "working" this long with mail waiting is woken anyway: its end of turn
 * may have gone unreported (the mail then joins the running turn, or starts one).
 */
const WORKING_STALE_MS = 5 * 60_000;
/** At start the server may still be claiming its session. */
const START_WAIT_MS = 3_000;
/**
 * Mail is announced again only once the session's hooks have reported since the last
 * announcement (its woken turn ran), or after this long: a session whose hooks do not take the
 * mail is not woken in a loop.
 */
const REPEAT_MS = 60_000;

export interface WaitOutcome {
  /** What to print (the doorbell), or nothing. */
  stdout: string;
  exitCode: number;
}

/** The doorbell line: fixed words, the session's own name and a count. */
export function doorbellLine(name: string, pending: number, command: string): string {
  return `cc-dm: new mail for "${name}" (${pending} message${pending === 1 ? '' : 's'} waiting). cc-dm adds ${pending === 1 ? 'it' : 'them'} to your context with this turn. Then start cc-dm's wait again in the background (run_shell_command with is_background: true) to be woken for the next one: ${command}\n`;
}

export class Waiter {
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private checking = false;
  private again = false;
  private finished?: (o: WaitOutcome) => void;

  constructor(
    private readonly bus: Bus,
    private readonly cfg: Config,
    private readonly geminiPid: number,
    private readonly command: string,
    private readonly now: () => number = Date.now,
  ) {}

  private get ref(): AgentRef {
    return { agent: 'gemini', pid: this.geminiPid };
  }

  private get announcedFile(): string {
    return join(agentDir(this.cfg.home, this.geminiPid), 'announced');
  }

  private announced(): { at: number } | undefined {
    try {
      return JSON.parse(readFileSync(this.announcedFile, 'utf8')) as { at: number };
    } catch {
      return undefined;
    }
  }

  /** Waits until mail is there for an idle session (the doorbell), or the session is gone (nothing). */
  async wait(): Promise<WaitOutcome> {
    const deadline = this.now() + START_WAIT_MS;
    let s = await this.bus.agentSession(this.ref);
    while (!s && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      s = await this.bus.agentSession(this.ref);
    }
    if (!s) {
      return {
        stdout: 'cc-dm wait: no cc-dm session runs in this Gemini CLI (is cc-dm among its MCP servers?). Do not start it again.\n',
        exitCode: 1,
      };
    }
    await this.bus.agentWake(this.ref, 'waiter', process.pid);
    const outcome = await new Promise<WaitOutcome>((resolve) => {
      this.finished = resolve;
      const dir = agentDir(this.cfg.home, this.geminiPid);
      if (existsSync(dir)) {
        this.watcher = watch(dir, { persistent: false }, (_e, f) => {
          if (f === 'bell') this.check();
        });
        this.watcher.on('error', () => {});
      }
      this.timer = setInterval(() => this.check(), POLL_MS);
      this.check();
    });
    await this.leave();
    return outcome;
  }

  /** Ends the wait without a word (a signal: Gemini CLI is stopping it). */
  stop(): void {
    this.finish({ stdout: '', exitCode: 0 });
  }

  private finish(o: WaitOutcome): void {
    const f = this.finished;
    this.finished = undefined;
    this.watcher?.close();
    clearInterval(this.timer);
    f?.(o);
  }

  /** No longer waiting: the session is not shown as woken by a waiter (unless another one took over). */
  private async leave(): Promise<void> {
    const s = await this.bus.agentSession(this.ref).catch(() => undefined);
    if (s?.wake === 'waiter' && s.wake_pid === process.pid) await this.bus.agentWake(this.ref, 'none', null);
  }

  private check(): void {
    if (!this.finished) return;
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = true;
    this.look()
      .catch(() => undefined)
      .finally(() => {
        this.checking = false;
        if (this.again) {
          this.again = false;
          this.check();
        }
      });
  }

  private async look(): Promise<void> {
    if (!pidAlive(this.geminiPid, null)) return this.finish({ stdout: '', exitCode: 0 });
    const s = await this.bus.agentSession(this.ref);
    if (!s || s.presence === 'offline') return this.finish({ stdout: '', exitCode: 0 });
    const busy = s.presence === 'working' && this.now() - (s.presence_at ?? 0) < WORKING_STALE_MS;
    if (s.pending === 0 || busy || s.path !== 'hook') return;
    const last = this.announced();
    if (last && (s.presence_at ?? 0) <= last.at && this.now() - last.at < REPEAT_MS) return;
    writeFileSync(this.announcedFile, JSON.stringify({ at: this.now() }), { mode: 0o600 });
    this.finish({ stdout: doorbellLine(s.name, s.pending, this.command), exitCode: 0 });
  }
}

/** `cc-dm wait`, as bin/cc-dm.js runs it (without the CLI). */
export async function runWait(): Promise<void> {
  const cfg = loadConfig();
  const command = waitCommand(cfg.home);
  // Quiet: whatever this process writes becomes a turn of the model's. Errors go to the log file only.
  const log = createLogger({ level: cfg.logFile ? cfg.logLevel : 'error', file: cfg.logFile ?? '/dev/null', tag: 'cc-dm wait' });
  const gemini = nearestAgent(8);
  let out: WaitOutcome = { stdout: '', exitCode: 0 };
  if (gemini?.agent !== 'gemini') {
    out = {
      stdout:
        'cc-dm wait: this is for Gemini CLI sessions (run in the background by the model); none was found among its parent processes.\n',
      exitCode: 1,
    };
  } else {
    try {
      const bus = await openBus(cfg, { log });
      try {
        const w = new Waiter(bus, cfg, gemini.pid, command);
        for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => w.stop());
        out = await w.wait();
      } finally {
        await bus.close();
      }
    } catch (e) {
      log.error(errorText(e));
    }
  }
  if (out.stdout) await new Promise<void>((resolve) => process.stdout.write(out.stdout, () => resolve()));
  process.exit(out.exitCode);
}
