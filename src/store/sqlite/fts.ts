/**
 * Turns a query into a safe FTS5 query: each word (a run of letters and digits, as FTS5's
 * unicode61 tokenizer splits text) is a quoted prefix term; everything else only separates words,
 * so no FTS5 syntax (quotes, operators, column filters) ever reaches MATCH. The bus refuses a
 * query without words before it gets here.
 */
export function ftsQuery(input: string): string {
  const words = input.match(/[\p{L}\p{N}]+/gu) ?? [];
  return words.map((w) => `"${w}"*`).join(' ');
}
