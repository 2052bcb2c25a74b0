/**
 * Editing a user's TOML file (Codex's config.toml) as text, so that everything cc-dm did not
 * write stays exactly as it was: comments, order, formatting. cc-dm only ever removes whole
 * tables it added (by their header) and appends its own tables at the end, which is valid TOML
 * whatever comes before (a table header ends the previous table). smol-toml checks the result.
 */
import { parse } from 'smol-toml';

/** A TOML key, quoted when it is not a bare key. */
export function tomlKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
}

/** A TOML basic string. */
export function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** The path of a table header line (`[a."b.c".d]`, `[[x]]`), or undefined for any other line. */
export function headerPath(line: string): string[] | undefined {
  const m = /^\s*\[{1,2}([^\]]*(?:"[^"]*"[^\]]*)*)\]{1,2}\s*(#.*)?$/.exec(line);
  if (!m) return undefined;
  const inner = m[1]!;
  const out: string[] = [];
  let i = 0;
  while (i < inner.length) {
    while (inner[i] === ' ' || inner[i] === '\t') i++;
    if (inner[i] === '"') {
      let j = i + 1;
      let s = '';
      while (j < inner.length && inner[j] !== '"') {
        if (inner[j] === '\\') {
          s += JSON.parse(`"${inner.slice(j, j + 2)}"`);
          j += 2;
        } else s += inner[j++];
      }
      out.push(s);
      i = j + 1;
    } else if (inner[i] === "'") {
      const j = inner.indexOf("'", i + 1);
      out.push(inner.slice(i + 1, j));
      i = j + 1;
    } else {
      let j = i;
      while (j < inner.length && !/[.\s]/.test(inner[j]!)) j++;
      out.push(inner.slice(i, j));
      i = j;
    }
    while (inner[i] === ' ' || inner[i] === '\t') i++;
    if (inner[i] === '.') i++;
  }
  return out;
}

/**
 * Removes every table whose path starts with one of `prefixes` (its header and the lines up to
 * the next header), with the blank lines and comments right before it that cc-dm wrote.
 */
export function removeTables(text: string, prefixes: readonly (readonly string[])[]): { text: string; removed: number } {
  const lines = text.split('\n');
  const keep: string[] = [];
  let dropping = false;
  let removed = 0;
  for (const line of lines) {
    const path = headerPath(line);
    if (path) {
      dropping = prefixes.some((p) => p.length <= path.length && p.every((k, i) => path[i] === k));
      if (dropping) {
        removed++;
        // Our own comment line and blank lines before the table go with it.
        while (keep.length && (keep[keep.length - 1]!.trim() === '' || keep[keep.length - 1]!.startsWith('# cc-dm'))) keep.pop();
      }
    }
    if (!dropping) keep.push(line);
  }
  let out = keep.join('\n');
  if (removed && out.trim() !== '' && !out.endsWith('\n')) out += '\n';
  return { text: out.trim() === '' ? '' : out, removed };
}

/** Appends tables at the end (after a blank line). */
export function appendTables(text: string, block: string): string {
  const base = text.trim() === '' ? '' : text.replace(/\n*$/, '\n\n');
  return `${base}${block.replace(/\n*$/, '\n')}`;
}

/** Parses TOML (smol-toml); throws with the file named when it is not valid. */
export function parseToml(text: string, file: string): Record<string, any> {
  try {
    return parse(text) as Record<string, any>;
  } catch (e) {
    throw new Error(`${file} is not valid TOML: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
}
