/**
 * Who may talk to the console: a request must come to our own address (Host), from our own page
 * (Origin, when the browser sends one), and carry the run's token. The Host check defeats DNS
 * rebinding (a page on evil.example whose name now resolves to 127.0.0.1 still sends
 * `Host: evil.example`); the token defeats every other local process and web page.
 *
 * A cookie alone is never enough to act, or to read anything but the empty page: browsers send
 * cookies for 127.0.0.1 to every port, so any other local web server the browser visits gets
 * them. So:
 *
 * - Every API request (reads, the live stream, sends, verdicts) must carry the token in the
 *   `X-CC-DM-Token` header. Only the console's own page holds it, in its tab's sessionStorage
 *   (per origin: scheme, host and port), and a page of another origin can neither read it nor
 *   make the browser add the header (a cross-origin custom header needs a CORS preflight, which
 *   the console never grants).
 * - The first load (`/?token=...`, the URL printed at start) answers with a redirect to `/#k=...`:
 *   the token moves into the fragment, which the browser never sends to any server, and the
 *   page's script moves it into sessionStorage and clears the address bar. The cookie that the
 *   redirect sets is a separate random value: it only lets that browser reload the (data-free)
 *   page itself.
 * - The browser opener gets `/?code=...` instead of the token: a one-time code, valid for
 *   CODE_TTL_MS, so what stands on a command line (readable by every local user in /proc) is
 *   useless to anyone else once the browser has used it, or a few seconds later.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';

export const TOKEN_HEADER = 'x-cc-dm-token';
/** How long a code handed to the browser opener stays usable (once). */
export const CODE_TTL_MS = 20_000;

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function cookieName(port: number): string {
  return `cc_dm_console_${port}`;
}

function same(given: string | undefined, secret: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
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

/** The console's secrets for one run: the token, the page cookie, and one-time codes for the opener. */
export class ConsoleAuth {
  readonly token = newToken();
  /** Lets a browser reload the page (which holds no data); never accepted by the API. */
  readonly pageCookie = newToken();
  private readonly codes = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A one-time code for the browser opener, valid for CODE_TTL_MS. */
  newCode(): string {
    const code = randomBytes(18).toString('base64url');
    for (const [k, until] of this.codes) if (until < this.now()) this.codes.delete(k);
    this.codes.set(code, this.now() + CODE_TTL_MS);
    return code;
  }

  /** Uses a code up: true once, while it is fresh. */
  redeem(code: string): boolean {
    for (const [k, until] of this.codes) {
      if (same(code, k)) {
        this.codes.delete(k);
        return until >= this.now();
      }
    }
    return false;
  }
}

/** `port()` is read per request: the port is known only once the server listens. */
export function guard(auth: ConsoleAuth, port: () => number): MiddlewareHandler {
  return async (c, next) => {
    const p = port();
    const hosts = new Set([`127.0.0.1:${p}`, `localhost:${p}`]);
    const host = (c.req.header('host') ?? '').toLowerCase();
    if (!hosts.has(host)) return refuse(c, 403, `wrong Host "${host}": the console answers only at 127.0.0.1:${p}.`);
    const origin = c.req.header('origin');
    if (origin !== undefined && !(origin.startsWith('http://') && hosts.has(origin.slice(7).toLowerCase()))) {
      return refuse(c, 403, `cross-origin request from "${origin}" refused.`);
    }
    const isPage = c.req.path === '/' && (c.req.method === 'GET' || c.req.method === 'HEAD');
    // First load: the token (printed URL) or a one-time code (the opener) becomes the key in the
    // page's fragment, and a redirect drops it from the address bar and the history.
    const q = c.req.query('token');
    const code = c.req.query('code');
    if (isPage && (q !== undefined || code !== undefined)) {
      if (q !== undefined && !same(q, auth.token)) return refuse(c, 401, 'wrong token: use the URL printed by cc-dm console.');
      if (q === undefined && !auth.redeem(code!)) {
        return refuse(
          c,
          401,
          'this link was already used or has expired (links handed to the browser work once, for a few seconds): open the URL printed by cc-dm console.',
        );
      }
      return c.body(null, 303, {
        location: `/#k=${auth.token}`,
        'set-cookie': `${cookieName(p)}=${auth.pageCookie}; HttpOnly; SameSite=Strict; Path=/`,
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      });
    }
    const byHeader = same(c.req.header(TOKEN_HEADER), auth.token);
    // The page itself (no data in it) may be reloaded with the page cookie; everything else needs the header.
    if (!byHeader && !(isPage && same(cookie(c, cookieName(p)), auth.pageCookie))) {
      return refuse(
        c,
        401,
        isPage
          ? 'missing or wrong token: open the URL printed by cc-dm console.'
          : 'missing or wrong X-CC-DM-Token header: the console API answers only its own page (or a script given the token); a cookie is not enough.',
      );
    }
    // State changes only as JSON: a plain HTML form on another site cannot produce it.
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !(c.req.header('content-type') ?? '').startsWith('application/json')) {
      return refuse(c, 403, 'state-changing requests must be application/json.');
    }
    await next();
  };
}
