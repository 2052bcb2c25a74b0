/**
 * How a Codex thread finds its cc-dm server when Codex runs its threads in a shared app-server
 * (the daemon a Codex TUI starts by default): every thread gets its own MCP server process, all
 * children of the daemon, with the daemon's environment; nothing tells a server which thread it
 * serves until the model calls one of its tools (`_meta.threadId`). The thread's hooks know the
 * thread (`session_id`) from its first prompt on, but not which server is its own.
 *
 * So a server that does not know its thread yet leaves a slot, `$CC_DM_HOME/agents/<daemon
 * pid>/servers/<server pid>.json` (its process, start, working directory), and waits. A hook of
 * thread T binds T to the one slot that can be T's: a live server in T's working directory that
 * started after T was created (Codex thread ids are UUIDv7: they carry their creation time). When
 * two slots could be T's, the hook binds none (a guess could hand one thread another's mail): the
 * server then binds at its first tool call. A binding is `<server pid>.thread`, created exclusively
 * (of two racing writers one wins), and the server, watching the folder, starts its session for
 * that thread.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

export interface ServerSlot {
  pid: number;
  /** Process start ticks (/proc), so a reused pid is never taken for the server. */
  pidStart: string | null;
  cwd: string;
  startedAt: number;
}

export function serversDir(home: string, agentPid: number): string {
  return join(home, 'agents', String(agentPid), 'servers');
}

/** The creation time (ms) of a UUIDv7 (Codex thread ids are), or undefined for any other string. */
export function uuidv7Time(id: string): number | undefined {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/i.exec(id.trim());
  return m ? parseInt(m[1]! + m[2]!, 16) : undefined;
}

/** A server's side: its slot, the wait for a binding, and the binding it makes itself. */
export class ThreadSlot {
  private watcher?: FSWatcher;
  private done = false;

  constructor(
    readonly dir: string,
    readonly slot: ServerSlot,
  ) {}

  private get slotFile(): string {
    return join(this.dir, `${this.slot.pid}.json`);
  }
  private get bindFile(): string {
    return join(this.dir, `${this.slot.pid}.thread`);
  }

  /** Leaves the slot and calls `onBound` once a hook binds a thread to it. */
  open(onBound: (thread: string) => void): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.slotFile, JSON.stringify(this.slot), { mode: 0o600 });
    const look = () => {
      if (this.done) return;
      const thread = this.bound();
      if (thread) {
        this.done = true;
        onBound(thread);
      }
    };
    this.watcher = watch(this.dir, { persistent: false }, (_e, f) => {
      if (f === `${this.slot.pid}.thread`) look();
    });
    this.watcher.on('error', () => {});
    look();
  }

  /** The thread bound to this slot, if any. */
  bound(): string | undefined {
    try {
      return readFileSync(this.bindFile, 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Binds the thread the client named (a tool call's `_meta.threadId`): that is the truth, even
   * over a hook's binding. Returns the thread a hook had bound when it differs.
   */
  bindSelf(thread: string): string | undefined {
    const before = this.bound();
    this.done = true;
    if (before === thread) return undefined;
    writeFileSync(this.bindFile, thread, { mode: 0o600 });
    return before;
  }

  /** Stops waiting and removes the slot (the session, once started, is found by its thread). */
  close(): void {
    this.done = true;
    this.watcher?.close();
    rmSync(this.slotFile, { force: true });
    rmSync(this.bindFile, { force: true });
  }
}

/**
 * A hook's side: binds `thread` to the one open slot that can be its server, and returns that
 * server's pid; undefined when none can be, or when more than one could (no guess).
 */
export function bindThread(
  home: string,
  agentPid: number,
  thread: string,
  cwd: string | undefined,
  isAlive: (pid: number, start: string | null) => boolean,
): number | undefined {
  const dir = serversDir(home, agentPid);
  if (!existsSync(dir)) return undefined;
  const created = uuidv7Time(thread);
  const candidates: ServerSlot[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    let slot: ServerSlot;
    try {
      slot = JSON.parse(readFileSync(join(dir, f), 'utf8')) as ServerSlot;
    } catch {
      continue;
    }
    if (existsSync(join(dir, `${slot.pid}.thread`))) continue;
    if (cwd && slot.cwd !== cwd) continue;
    // A thread's servers start after it was created (a resumed thread's long after).
    if (created !== undefined && slot.startedAt < created) continue;
    if (!isAlive(slot.pid, slot.pidStart)) continue;
    candidates.push(slot);
  }
  if (candidates.length !== 1) return undefined;
  const pid = candidates[0]!.pid;
  try {
    writeFileSync(join(dir, `${pid}.thread`), thread, { flag: 'wx', mode: 0o600 });
    return pid;
  } catch {
    // Another hook bound it first: whichever thread that was, it is not ours to take.
    return undefined;
  }
}
