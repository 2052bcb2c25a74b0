// What the model stand-ins share: a recorded request with its arrival time, and a bounded wait for
// the next request matching a predicate that names what did not arrive.

import http from 'node:http';

/** Wall-clock time in milliseconds with sub-millisecond precision; comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface Recorded<R = unknown> {
  /** Sequence number within this stand-in, from 0. */
  seq: number;
  /** Arrival time (nowMs()) of the request, when its handler first ran. */
  at: number;
  method: string;
  /** Path with query string. */
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON body (undefined when empty; `{ raw }` when not JSON). */
  body: any;
  /** Time the reply was fully written (nowMs()), once it is. */
  repliedAt?: number;
  /** What the script answered (model requests only). */
  reply?: R;
}

export interface Waitable<T extends Recorded> {
  requests: T[];
  /** Resolves with the first recorded request (index >= fromSeq) satisfying pred; bounded. */
  waitForRequest(pred: (r: T) => boolean, what: string, timeoutMs?: number, fromSeq?: number): Promise<T>;
  /** Seq the next request will get: pass it as fromSeq to wait only for later requests. */
  nextSeq(): number;
}

/**
 * The bookkeeping of a stand-in: a list of requests, and waiters woken whenever a request is
 * recorded or replied to. `describe` renders a request in a failure message.
 */
export class RequestLog<T extends Recorded> implements Waitable<T> {
  readonly requests: T[] = [];
  private waiters = new Set<() => void>();

  constructor(
    private label: string,
    private describe: (r: T) => string,
    private isModel: (r: T) => boolean,
  ) {}

  add(r: T): void {
    this.requests.push(r);
    this.notify();
  }

  notify(): void {
    for (const w of [...this.waiters]) w();
  }

  nextSeq(): number {
    return this.requests.length;
  }

  waitForRequest(pred: (r: T) => boolean, what: string, timeoutMs = 30_000, fromSeq = 0): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = fromSeq; i < this.requests.length; i++) {
          const r = this.requests[i];
          let ok = false;
          try {
            ok = pred(r);
          } catch {
            ok = false;
          }
          if (ok) {
            cleanup();
            resolve(r);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = this.requests
          .slice(fromSeq)
          .filter(this.isModel)
          .slice(-6)
          .map((r) => `#${r.seq} ${r.method} ${r.path}: ${this.describe(r).slice(0, 240).replace(/\s+/g, ' ')}`)
          .join('\n  ');
        const others = this.requests
          .slice(fromSeq)
          .filter((r) => !this.isModel(r))
          .slice(-4)
          .map((r) => `#${r.seq} ${r.method} ${r.path}`)
          .join(', ');
        reject(
          new Error(
            `${this.label}: timed out after ${timeoutMs} ms waiting for ${what}; ` +
              `${this.requests.length - fromSeq} request(s) since #${fromSeq}` +
              (seen ? `; last model requests (newest input):\n  ${seen}` : '; no model request') +
              (others ? `\n  other requests: ${others}` : ''),
          ),
        );
      }, timeoutMs);
      const waiter = () => check();
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
      check();
    });
  }
}

/**
 * The HTTP side of a stand-in: each request is recorded in `log` once its body is in (stamped with
 * the time its handling began, so waiters see it at once), then `handle` answers it and calls
 * `done` when the reply is written. A handler that throws answers 500 with `errorBody`, in the
 * error shape of the API the stand-in plays.
 */
export function recordingServer<T extends Recorded>(
  log: RequestLog<T>,
  handle: (rec: T, raw: string, res: http.ServerResponse, done: () => void) => Promise<void>,
  errorBody: (message: string) => unknown,
): http.Server {
  return http.createServer((req, res) => {
    const at = nowMs();
    readBody(req)
      .then((raw) => {
        const rec = { seq: log.nextSeq(), at, method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: parseJson(raw) } as T;
        log.add(rec);
        return handle(rec, raw, res, () => {
          rec.repliedAt = nowMs();
          log.notify();
        });
      })
      .catch((err) => {
        try {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify(errorBody(String(err))));
        } catch {
          /* already sent */
        }
      });
  });
}

/** Reads a whole request body; resolves with it as text. */
export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function parseJson(raw: string): any {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return { raw };
  }
}

/** Listens on 127.0.0.1 on a free port. */
export async function listenLocal(server: http.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

export async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export function sseFrame(event: string | undefined, data: unknown): string {
  return (event ? `event: ${event}\n` : '') + `data: ${JSON.stringify(data)}\n\n`;
}
