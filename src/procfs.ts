/**
 * What /proc tells about processes: start times and parents (liveness, push visibility, the
 * hook), command lines, the ancestry of this process, and which machine and process namespace
 * this is. Every reader says when it could not read: a process whose /proc entry exists but
 * cannot be read (another user's, under hidepid) is unknown, never assumed alive.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/** The fields of /proc/<pid>/stat after the command name (field 3 onwards); null where it cannot be read. */
export function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; null where it cannot be read. */
export function processStart(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/** Field 4 of /proc/<pid>/stat: the parent pid. */
export function parentOf(pid: number): number | undefined {
  const ppid = statFields(pid)?.[1];
  return ppid === undefined ? undefined : Number(ppid);
}

/** Whether this machine has a /proc this process can read at all (Linux; not macOS). */
let procReadable: boolean | undefined;
export function hasProc(): boolean {
  procReadable ??= statFields(process.pid) !== null;
  return procReadable;
}

/** A process's command line; undefined where it cannot be read. */
export function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** This process's ancestors, nearest first (pid 1 and beyond left out). */
export function ancestors(depth = 64, start: number = process.ppid): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  for (let pid: number | undefined = start; out.length < depth && pid && pid > 1 && !seen.has(pid); pid = parentOf(pid)) {
    seen.add(pid);
    out.push(pid);
  }
  return out;
}

/** Does this command line run Claude Code (the `claude` launcher, or its npm package)? */
export function looksLikeClaude(argv: readonly string[]): boolean {
  return argv.slice(0, 2).some((a) => /(^|\/)claude(\.exe)?$/.test(a) || a.includes('@anthropic-ai/claude-code'));
}

/**
 * The program a command line runs: its first word, and the script an interpreter runs (the first
 * argument that is not an option: Gemini CLI relaunches itself as
 * `node --max-old-space-size=... <gemini.js> ...`).
 */
function programOf(argv: readonly string[]): string[] {
  const script = argv.slice(1).find((a) => !a.startsWith('-'));
  return script === undefined ? argv.slice(0, 1) : [argv[0] ?? '', script];
}

/** The agent CLI a command line runs, if it is one cc-dm knows. */
export function agentOf(argv: readonly string[]): 'claude' | 'codex' | 'gemini' | undefined {
  if (looksLikeClaude(argv)) return 'claude';
  const head = programOf(argv);
  if (head.some((a) => /(^|\/)codex(\.exe)?$/.test(a) || a.includes('@openai/codex'))) return 'codex';
  if (head.some((a) => /(^|\/)gemini(\.js)?$/.test(a) || a.includes('@google/gemini-cli'))) return 'gemini';
  return undefined;
}

/**
 * Whether a Codex command line serves many threads at once: the shared app-server daemon a
 * Codex TUI starts (`codex app-server --listen unix:// ... --managed-daemon`), or any other
 * `codex app-server` (an editor's). Its MCP servers and hooks get its environment, not the TUI's,
 * and a thread, not the process, is the session. `codex exec` and a TUI run in-process serve one.
 */
export function isSharedCodex(argv: readonly string[]): boolean {
  return argv.slice(1, 4).includes('app-server');
}

/** Whether a Codex command line is a one-shot run (`codex exec`): it ends with its turn, nothing can wake it. */
export function isCodexExec(argv: readonly string[]): boolean {
  return argv.slice(1).find((a) => !a.startsWith('-')) === 'exec';
}

/** The executable a process runs (/proc/<pid>/exe); undefined where it cannot be read. */
export function executableOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** A process's environment (/proc/<pid>/environ, readable for this user's own processes); undefined where it cannot be read. */
export function environOf(pid: number): Record<string, string> | undefined {
  try {
    const out: Record<string, string> = {};
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const i = kv.indexOf('=');
      if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return out;
  } catch {
    return undefined;
  }
}

/** The nearest agent CLI among this process's ancestors (a shell or npx may stand between). */
export function nearestAgent(
  depth = 6,
  start: number = process.ppid,
): { agent: 'claude' | 'codex' | 'gemini'; pid: number; argv: string[] } | undefined {
  for (const pid of ancestors(depth, start)) {
    const argv = cmdline(pid);
    const agent = argv && agentOf(argv);
    if (agent) return { agent, pid, argv: argv! };
  }
  return undefined;
}

/** The nearest Claude Code among this process's ancestors: its pid and argv. */
export function nearestClaude(depth = 64, start: number = process.ppid): { pid: number; argv: string[] } | undefined {
  for (const pid of ancestors(depth, start)) {
    const argv = cmdline(pid);
    if (argv && looksLikeClaude(argv)) return { pid, argv };
  }
  return undefined;
}

/**
 * Which processes this one can judge by pid: the kernel's boot (pids are reused across boots)
 * and the pid namespace (containers on one kernel each count their own pids). Read from the
 * kernel, never from the environment, so no launch can claim to be elsewhere. Without /proc
 * (macOS), the machine's own host name.
 */
let machine: string | undefined;
export function machineId(): string {
  if (machine !== undefined) return machine;
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
    machine = `${boot}/${ns}`;
  } catch {
    machine = `host:${hostname()}`;
  }
  return machine;
}
