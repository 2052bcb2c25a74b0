/**
 * `cc-dm setup <host>`: what every host's setup has in common. A host (claude today; codex and
 * gemini later) registers cc-dm with that agent CLI from the installed package, idempotently, and
 * records what it added in $CC_DM_HOME/setup.json, so that `cc-dm setup --undo` removes exactly
 * that and nothing of the user's own.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config.js';

/** The package (or clone) this cc-dm runs from: dist/src/cli/setup/ is four folders down. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

export interface SetupContext {
  cfg: Config;
  /** Replace a registration of cc-dm from elsewhere (another clone or install). */
  force: boolean;
  /** Progress for a person; silent with --json. */
  say(line: string): void;
}

export interface SetupResult {
  host: string;
  /** What this run changed, and what was already in place. */
  changed: string[];
  kept: string[];
  /** Commands that start a session as documented. */
  launch: string[];
  notes: string[];
}

export interface HostSetup<R = unknown> {
  /** The name on the command line: `cc-dm setup claude`. */
  readonly host: string;
  /** For people: "Claude Code". */
  readonly title: string;
  /** Registers cc-dm; `previous` is what an earlier run recorded (setup is idempotent). */
  setup(ctx: SetupContext, previous: R | undefined): Promise<{ result: SetupResult; record: R }>;
  /** Removes what `record` says setup added. */
  undo(ctx: SetupContext, record: R): Promise<SetupResult>;
  /**
   * Whether this agent CLI is here (`cc-dm setup` with no host sets up those that are); absent:
   * always set up.
   */
  present?(ctx: SetupContext): boolean;
  /** What the launch lines are for, in the result's words (default: a channel session). */
  readonly launchTitle?: string;
}

type State = Record<string, unknown>;

function stateFile(cfg: Config): string {
  return join(cfg.home, 'setup.json');
}

export function readState(cfg: Config): State {
  try {
    const data = JSON.parse(readFileSync(stateFile(cfg), 'utf8'));
    return typeof data === 'object' && data !== null && !Array.isArray(data) ? data : {};
  } catch {
    return {};
  }
}

/** Writes the state atomically; no state left: no file. */
export function writeState(cfg: Config, state: State): void {
  const file = stateFile(cfg);
  if (Object.keys(state).length === 0) {
    rmSync(file, { force: true });
    return;
  }
  mkdirSync(cfg.home, { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** A JSON file as an object; missing or unreadable: undefined. */
export function readJson(file: string): Record<string, any> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    return typeof data === 'object' && data !== null && !Array.isArray(data) ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Installed from npx's cache, which npm may clear: the registration would then point nowhere. */
export function runsFromNpx(root = PACKAGE_ROOT): boolean {
  return /[\\/]_npx[\\/]/.test(root);
}
