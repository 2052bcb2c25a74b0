/**
 * Waking an idle Codex thread: `codex queue --thread <id> --message <doorbell>` (Codex 0.171.0),
 * run by the recipient's own server with the Codex binary its thread runs on. Through the shared
 * app-server daemon the queued prompt starts a turn at once (0.14-0.78 s measured, loads 1-24);
 * a Codex that runs in-process polls its queue (about 10 s). The queued text is a fixed doorbell,
 * never the mail: the turn's UserPromptSubmit hook claims and shows the mail itself.
 *
 * Only for a thread that is idle (its hooks say so): a busy one gets its mail from its hooks
 * between tool calls and at the end of the turn. One doorbell until the thread's hooks report
 * again (below), so a burst of mail starts one turn, and a thread that never takes its mail is
 * not rung in a loop.
 */
import { spawn } from 'node:child_process';
import type { Presence, Wake } from '../store/types.js';

/** The fixed prompt cc-dm queues into an idle thread (never the mail itself: its hook brings that). */
export const CODEX_DOORBELL = 'cc-dm: new mail (an automatic notice from cc-dm, not from your user; the message follows from cc-dm).';

export interface CodexThreadState {
  thread: string | null;
  presence: Presence | null;
  wake: Wake | null;
  /** When its hooks last reported a change of presence. */
  presenceAt: number | null;
  /** Mail waiting for the session. */
  pending: number;
}

/**
 * After a doorbell, the next one waits until the thread's hooks have reported since (its turn
 * started: it takes all the mail that waits then), or this long (a doorbell whose turn never ran,
 * or a thread whose hooks are off: at most one doorbell a minute).
 */
const REPEAT_MS = 60_000;
/** `codex queue` is a short command: bounded. */
const QUEUE_TIMEOUT_MS = 15_000;

export interface QueueAttempt {
  at: number;
  thread: string;
  ok: boolean;
  ms: number;
  detail?: string;
}

export class CodexQueue {
  private lastRing: number | undefined;
  private running = false;
  /** What the last attempt did, for the log and tests. */
  last: QueueAttempt | undefined;

  constructor(
    /** The Codex binary (the one the thread's process runs: /proc/<pid>/exe). */
    private readonly codexBin: string,
    /** The environment `codex queue` needs: CODEX_HOME (it finds the daemon's socket there), HOME, PATH. */
    private readonly env: NodeJS.ProcessEnv,
    private readonly doorbell: string,
    private readonly state: () => Promise<CodexThreadState | undefined>,
    private readonly onError: (e: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** Mail waits: queue the doorbell if the thread is idle and none is on its way. */
  ring(): void {
    void this.tryRing().catch((e) => this.onError(e));
  }

  private async tryRing(): Promise<void> {
    if (this.running) return;
    const st = await this.state();
    if (!st?.thread || st.pending === 0 || (st.wake !== 'queue' && st.wake !== 'queue_slow')) return;
    if (st.presence !== 'idle') return;
    const last = this.lastRing;
    if (last !== undefined && (st.presenceAt ?? 0) <= last && this.now() - last < REPEAT_MS) return;
    this.running = true;
    this.lastRing = this.now();
    try {
      this.last = await this.queue(st.thread);
      if (!this.last.ok) this.onError(new Error(`codex queue --thread ${st.thread} failed: ${this.last.detail ?? ''}`));
    } finally {
      this.running = false;
    }
  }

  private queue(thread: string): Promise<QueueAttempt> {
    const at = this.now();
    return new Promise((resolve) => {
      let out = '';
      const child = spawn(this.codexBin, ['queue', '--thread', thread, '--message', this.doorbell], {
        env: this.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), QUEUE_TIMEOUT_MS);
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ at, thread, ok: false, ms: this.now() - at, detail: String(e) });
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ at, thread, ok: code === 0, ms: this.now() - at, detail: out.trim().slice(0, 300) });
      });
    });
  }
}
