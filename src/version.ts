/** cc-dm's version, read once from package.json (the one place it is written). */
import { readFileSync } from 'node:fs';

// From dist/src/version.js and from src/version.ts alike, package.json is two folders up.
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;
