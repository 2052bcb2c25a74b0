/**
 * The bell: how a session's server wakes its agent CLI when the agent cannot be pushed to (the
 * hook path). A folder per agent process, `$CC_DM_HOME/agents/<agent pid>/` (0700), holds:
 *
 * - `bell` (0600): the agent watches it (Claude Code: SessionStart `watchPaths`, then a
 *   FileChanged hook claims the mail). The server appends a line when mail waits. It is only ever
 *   appended to, never replaced or deleted: Claude Code's watcher coalesces changes within its
 *   500 ms settle and ends the watch when the file is deleted, so the bell says "look" and the
 *   hook claims everything waiting.
 * - `presence`: the agent's hooks write its state there (a shell one-liner, ~15 ms against
 *   ~250 ms for a node start), and the server carries it into the store.
 * - `claims` (present while a hook's claim waits to be confirmed) and `seen` (the bell's size
 *   when the confirm hook last looked): hooks/confirm.sh starts node for the confirm hook only
 *   when one of them says there is work, not twice at every prompt.
 *
 * Keyed by the agent's pid, which both sides know without the store: the server walks its
 * ancestors to the agent, hooks get it as CLAUDE_PID. The folder lives as long as the agent.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
  type FSWatcher,
} from 'node:fs';
import { join } from 'node:path';

export function agentsDir(home: string): string {
  return join(home, 'agents');
}

export function agentDir(home: string, agentPid: number): string {
  return join(agentsDir(home), String(agentPid));
}

export function bellPath(home: string, agentPid: number): string {
  return join(agentDir(home, agentPid), 'bell');
}

export class Bell {
  private watcher?: FSWatcher;
  private rings = 0;

  constructor(readonly dir: string) {}

  get path(): string {
    return join(this.dir, 'bell');
  }

  /** Creates the folder and the bell (keeping one that exists: the agent may already watch it). */
  prepare(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    if (!existsSync(this.path)) writeFileSync(this.path, '', { mode: 0o600 });
  }

  /** Says "look": one line appended (a change the agent's watcher sees). */
  ring(): void {
    try {
      appendFileSync(this.path, `${Date.now()} ${++this.rings}\n`, { mode: 0o600 });
    } catch {
      // The folder was removed (the session is stopping): nothing to wake.
    }
  }

  /** A hook claimed mail that is not confirmed yet: the next confirm hook must run. */
  markClaims(): void {
    try {
      writeFileSync(join(this.dir, 'claims'), '', { mode: 0o600 });
    } catch {
      // The folder is gone (the agent ended): its claims are settled at the name's next start.
    }
  }

  /**
   * The confirm hook is looking: records the bell's size (a ring after this makes the next
   * confirm run) and clears the claims mark, which `markClaims` sets again if claims remain. Both
   * before the store is read, so a claim or a ring that comes meanwhile is never lost.
   */
  looking(): void {
    let size = 0;
    try {
      size = statSync(this.path).size;
    } catch {
      // No bell yet: 0, which any ring changes.
    }
    try {
      writeFileSync(join(this.dir, 'seen'), `${size}\n`, { mode: 0o600 });
      rmSync(join(this.dir, 'claims'), { force: true });
    } catch {
      // The folder is gone (the agent ended): nothing to gate.
    }
  }

  /** The state the agent's hooks wrote last, if any. */
  presence(): string | undefined {
    try {
      return readFileSync(join(this.dir, 'presence'), 'utf8').trim().split(/\s+/)[0] || undefined;
    } catch {
      return undefined;
    }
  }

  /** Calls `onPresence` when the hooks write a state (inotify: an idle session costs nothing). */
  watchPresence(onPresence: (state: string) => void): void {
    this.watcher = watch(this.dir, { persistent: false }, (_event, file) => {
      if (file !== 'presence') return;
      const state = this.presence();
      if (state) onPresence(state);
    });
    this.watcher.on('error', () => {});
  }

  /**
   * Stops watching. The folder stays: the agent may outlive this server (a reconnect starts
   * another under the same agent), and deleting a watched file would end the agent's watch.
   * Folders of agents that are gone are removed by cleanStale.
   */
  close(): void {
    this.watcher?.close();
  }

  /** Removes the folders of agent processes that are gone (left by killed sessions). */
  static cleanStale(home: string, isAlive: (pid: number) => boolean): void {
    const root = agentsDir(home);
    if (!existsSync(root)) return;
    for (const f of readdirSync(root)) {
      const pid = Number(f);
      if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) rmSync(join(root, f), { recursive: true, force: true });
    }
  }
}
