/** Turns what a person types into a safe FTS5 query: each word is a quoted prefix term. */
export function ftsQuery(input: string): string {
  const words = input
    .split(/\s+/)
    .map((w) => w.replace(/"/g, ''))
    .filter(Boolean);
  return words.map((w) => `"${w}"*`).join(' ');
}
