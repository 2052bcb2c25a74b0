/**
 * Who may talk to the console: a request must come to our own address (Host), from our own page
 * (Origin, when the browser sends one), and carry the token printed at start. The Host check
 * defeats DNS rebinding (a page on evil.example whose name now resolves to 127.0.0.1 still sends
 * `Host: evil.example`); the token defeats every other local process and web page.
 *
 * The token arrives once in the URL's query, is then kept in an HttpOnly, SameSite=Strict cookie
 * named after the port (cookies are per host, not per port), and the URL is cleaned by a
 * redirect. Scripts may send it in the `X-CC-DM-Token` header instead.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';

export const TOKEN_HEADER = 'x-cc-dm-token';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function cookieName(port: number): string {
  return `cc_dm_console_${port}`;
}

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookie(c: Context, name: string): string | undefined {
  const raw = c.req.header('cookie');
  if (!raw) return undefined;
  for (const part of raw.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function refuse(c: Context, status: 401 | 403, error: string): Response {
  return c.json({ success: false, error }, status, { 'cache-control': 'no-store' });
}

/** `port()` is read per request: the port is known only once the server listens. */
export function guard(token: string, port: () => number): MiddlewareHandler {
  return async (c, next) => {
    const p = port();
    const hosts = new Set([`127.0.0.1:${p}`, `localhost:${p}`]);
    const host = (c.req.header('host') ?? '').toLowerCase();
    if (!hosts.has(host)) return refuse(c, 403, `wrong Host "${host}": the console answers only at 127.0.0.1:${p}.`);
    const origin = c.req.header('origin');
    if (origin !== undefined && !(origin.startsWith('http://') && hosts.has(origin.slice(7).toLowerCase()))) {
      return refuse(c, 403, `cross-origin request from "${origin}" refused.`);
    }
    // First load: the token in the query becomes a cookie, and a redirect drops it from the URL.
    const q = c.req.query('token');
    if (q !== undefined && c.req.method === 'GET' && c.req.path === '/') {
      if (!sameToken(q, token)) return refuse(c, 401, 'wrong token: use the URL printed by cc-dm console.');
      return c.body(null, 303, {
        location: '/',
        'set-cookie': `${cookieName(p)}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        'cache-control': 'no-store',
      });
    }
    if (!sameToken(c.req.header(TOKEN_HEADER), token) && !sameToken(cookie(c, cookieName(p)), token)) {
      return refuse(c, 401, 'missing or wrong token: open the URL printed by cc-dm console.');
    }
    // State changes only as JSON: a plain HTML form on another site cannot produce it.
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !(c.req.header('content-type') ?? '').startsWith('application/json')) {
      return refuse(c, 403, 'state-changing requests must be application/json.');
    }
    await next();
  };
}
