/**
 * Logs go to stderr (Claude Code keeps them in its MCP log) or to a file; never to stdout,
 * which carries JSON-RPC only. Connection strings are scrubbed of credentials.
 */
import { appendFileSync } from 'node:fs';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type Level = keyof typeof LEVELS;

export function scrub(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/)[^@\s/]*@/gi, '$1***@').replace(/(password=)[^\s&]+/gi, '$1***');
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function createLogger(opts: { level: Level; file?: string; tag?: string }): Logger {
  const min = LEVELS[opts.level];
  const write = (level: Level, msg: string) => {
    if (LEVELS[level] < min) return;
    const line = `${new Date().toISOString()} ${level} ${opts.tag ?? 'cc-dm'}: ${scrub(msg)}\n`;
    if (opts.file) {
      try {
        appendFileSync(opts.file, line, { mode: 0o600 });
        return;
      } catch {
        /* fall back to stderr */
      }
    }
    process.stderr.write(line);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}

export function errorText(e: unknown): string {
  return scrub(e instanceof Error ? e.message : String(e));
}
