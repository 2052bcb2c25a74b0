/** Turns what a person types into a safe full-text query: each word is a quoted prefix term. */
export function ftsQuery(input: string): string {
  const words = input.split(/\s+/).map((w) => w.replace(/"/g, '')).filter(Boolean);
  return words.map((w) => `"${w}"*`).join(' ');
}

/** The same words as plain terms, for stores without FTS syntax (PostgreSQL's plainto_tsquery). */
export function plainWords(input: string): string {
  return input.split(/\s+/).filter(Boolean).join(' ');
}
