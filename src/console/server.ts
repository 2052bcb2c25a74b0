/**
 * `cc-dm console`: a local web page for the human. Hono on 127.0.0.1 only (never another
 * interface), a random free port unless one is given, every request guarded by a token (see
 * guard.ts). The page is one document with its script and style inline, allowed by a per-response
 * nonce in a strict Content-Security-Policy: nothing is loaded from anywhere else.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { Bus } from '../bus/bus.js';
import { parseSince } from '../bus/time.js';
import { BroadcastArgs, DmArgs, MESSAGE_TYPES, parseArgs, PRIORITIES } from '../bus/validate.js';
import { CcDmError, codeOf, httpStatus, isCcDmError } from '../errors.js';
import { errorText } from '../log.js';
import { nameKey } from '../names.js';
import { ConsoleAuth, guard } from './guard.js';
import { follow } from './live.js';
import { page } from './page.js';

/** A remedy worded for a person at the console (the tools word theirs for a model). */
function withConsoleRemedy(e: unknown): unknown {
  if (isCcDmError(e) && e.details?.retryWith === 'queue_if_unknown') {
    return new CcDmError(
      e.code,
      `${e.message} To queue mail for a session that will start later under this name, tick "queue" and send again.`,
      e.details,
    );
  }
  return e;
}

const SendBody = z
  .object({
    to: z.string().max(200).optional(),
    broadcast: z.boolean().optional(),
    project: z.string().max(200).optional(),
    content: z.unknown(),
    priority: z.string().optional(),
    message_type: z.string().optional(),
    thread_id: z.string().optional(),
    queue_if_unknown: z.boolean().optional(),
  })
  .strict();

const VerdictBody = z.object({ behavior: z.enum(['allow', 'deny']), from: z.string().max(200).optional() }).strict();

const HistoryQuery = z
  .object({
    peer: z.string().max(200).optional(),
    with: z.string().max(200).optional(),
    thread: z.string().max(64).optional(),
    project: z.string().max(200).optional(),
    q: z.string().max(200).optional(),
    since: z.string().max(40).optional(),
    until: z.string().max(40).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict();

function empty<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as T;
}

async function body<T>(c: Context, schema: z.ZodType<T>, what: string): Promise<T> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new CcDmError('E_INVALID', `${what}: the body is not JSON.`);
  }
  return parseArgs(schema, raw, what);
}

export function consoleApp(bus: Bus, auth: ConsoleAuth, port: () => number): Hono {
  const app = new Hono();
  app.use('*', guard(auth, port));
  app.use('*', async (c, next) => {
    await next();
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'no-referrer');
    c.header('x-frame-options', 'DENY');
    if (!c.res.headers.get('cache-control')) c.header('cache-control', 'no-store');
  });
  app.onError((e, c) => {
    const code = codeOf(e);
    return c.json({ success: false, code, error: errorText(e) }, httpStatus(code));
  });

  app.get('/', (c) => {
    const nonce = randomBytes(16).toString('base64');
    c.header(
      'content-security-policy',
      [
        "default-src 'none'",
        `script-src 'nonce-${nonce}'`,
        `style-src 'nonce-${nonce}'`,
        "connect-src 'self'",
        "img-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join('; '),
    );
    // The page holds no data (a cookie may load it): everything comes through the API, with the token.
    return c.html(page(nonce, { priorities: PRIORITIES, messageTypes: MESSAGE_TYPES }));
  });

  app.get('/api/info', (c) => {
    const store = bus.describeStore();
    return c.json({ store: store.where, kind: store.kind });
  });

  app.get('/api/roster', async (c) => c.json(await bus.roster({ offline: true })));
  app.get('/api/threads', async (c) => c.json(await bus.threads()));
  app.get('/api/approvals', async (c) => c.json(await bus.approvals(c.req.query('all') === undefined)));

  app.get('/api/history', async (c) => {
    const q = parseArgs(HistoryQuery, empty(c.req.query()), 'history');
    const rows = await bus.history({
      participant: q.peer ? nameKey(q.peer) : undefined,
      peer: q.with ? nameKey(q.with) : undefined,
      thread_id: q.thread,
      project: q.project,
      query: q.q,
      since: q.since ? parseSince(q.since) : undefined,
      until: q.until ? parseSince(q.until) : undefined,
      limit: q.limit ?? 200,
    });
    return c.json(rows);
  });

  app.get('/api/trace/:id', async (c) => c.json(await bus.trace(c.req.param('id'))));

  app.post('/api/send', async (c) => {
    const b = await body(c, SendBody, 'send');
    const meta = empty({
      content: b.content,
      priority: b.priority || undefined,
      message_type: b.message_type || undefined,
      thread_id: b.thread_id || undefined,
    });
    if (b.broadcast) {
      return c.json(await bus.broadcast({ kind: 'human' }, parseArgs(BroadcastArgs, meta, 'send'), { project: b.project || undefined }));
    }
    if (!b.to?.trim()) throw new CcDmError('E_INVALID', 'send: say who to send to, or choose broadcast.');
    return c.json(
      await bus
        .dm({ kind: 'human' }, parseArgs(DmArgs, empty({ ...meta, to: b.to, queue_if_unknown: b.queue_if_unknown || undefined }), 'send'))
        .catch((e) => {
          throw withConsoleRemedy(e);
        }),
    );
  });

  app.post('/api/approvals/:id', async (c) => {
    const b = await body(c, VerdictBody, 'answer');
    return c.json(await bus.humanVerdict(c.req.param('id'), b.behavior, b.from));
  });

  app.get('/api/events', (c) => {
    const raw = c.req.header('last-event-id') ?? c.req.query('after') ?? '0';
    const after = /^\d{1,15}$/.test(raw) ? Number(raw) : 0;
    return streamSSE(c, (stream) => follow(bus, stream, after));
  });

  app.notFound((c) => c.json({ success: false, error: `no such page: ${c.req.path}` }, 404));
  return app;
}

export interface RunningConsole {
  /** The URL for the human's terminal (carries the token). */
  url: string;
  /** A URL for the browser opener: a one-time code, valid for a few seconds, never the token. */
  openUrl(): string;
  port: number;
  token: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (port 0: a free one) and resolves once the port is known. */
export async function startConsole(bus: Bus, opts: { port?: number } = {}): Promise<RunningConsole> {
  const auth = new ConsoleAuth();
  let port = 0;
  const app = consoleApp(bus, auth, () => port);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: opts.port ?? 0 });
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new CcDmError('E_INVALID', `port ${opts.port} is in use: choose another with --port, or leave it out for a free one.`)
          : e,
      ),
    );
    s.once('listening', () => resolve(s));
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${auth.token}`,
    openUrl: () => `http://127.0.0.1:${port}/?code=${auth.newCode()}`,
    port,
    token: auth.token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Live streams never end on their own: drop them so close() returns.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
