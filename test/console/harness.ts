/** The console under test: the real `cc-dm console` process, and Debian's Chromium driven by playwright-core. */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { request } from 'node:http';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import type { World } from '../support/world.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');

export interface ConsoleProcess {
  url: string;
  origin: string;
  port: number;
  token: string;
  proc: ChildProcessWithoutNullStreams;
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts `cc-dm console --no-open` and waits (bounded) for the URL it prints. */
export async function startConsole(w: World, args: string[] = []): Promise<ConsoleProcess> {
  const proc = w.cliAsync(['console', '--no-open', ...args]) as unknown as ChildProcessWithoutNullStreams;
  let out = '';
  proc.stdout.on('data', (d) => { out += String(d); });
  proc.stderr.on('data', (d) => { out += String(d); });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cc-dm console printed no URL within 15 s:\n${out}`)), 15_000);
    const check = () => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    };
    proc.stdout.on('data', check);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`cc-dm console exited with ${code}:\n${out}`)); });
  });
  const u = new URL(url);
  return {
    url, origin: u.origin, port: Number(u.port), token: u.searchParams.get('token')!, proc, output: () => out,
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve(proc.exitCode);
      proc.once('exit', (code) => resolve(code));
      proc.kill('SIGTERM');
    }),
  };
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A raw HTTP request, so that Host and Origin can be set to anything (fetch forbids Host). */
export function raw(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => {
        text += String(d);
        // The event stream never ends: its first bytes are enough to know it was accepted.
        if (res.headers['content-type']?.startsWith('text/event-stream')) { req.destroy(); resolve({ status: res.statusCode!, headers: res.headers, body: text }); }
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${method} ${path} within 10 s`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export interface SseEvent { event: string; id?: string; data: string }

/** Reads the event stream until `done` holds over what arrived (bounded), then hangs up. */
export function readEvents(port: number, headers: Record<string, string>, done: (events: SseEvent[]) => boolean, ms = 10_000): Promise<SseEvent[]> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const req = request({ host: '127.0.0.1', port, path: '/api/events', headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      if (res.statusCode !== 200) { req.destroy(); return reject(new Error(`event stream answered ${res.statusCode}`)); }
      let buf = '';
      res.on('data', (d) => {
        buf += String(d);
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: SseEvent = { event: 'message', data: '' };
          for (const line of block.split('\n')) {
            const [k, ...rest] = line.split(':');
            const v = rest.join(':').replace(/^ /, '');
            if (k === 'event') e.event = v;
            else if (k === 'id') e.id = v;
            else if (k === 'data') e.data += v;
          }
          if (block.startsWith(':')) continue; // a comment (keep-alive)
          events.push(e);
        }
        if (done(events)) { clearTimeout(timer); req.destroy(); resolve(events); }
      });
    });
    const timer = setTimeout(() => { req.destroy(); reject(new Error(`the event stream did not deliver what was awaited within ${ms} ms; got ${events.map((e) => e.event).join(', ')}`)); }, ms);
    req.on('error', (e) => { if (!req.destroyed) reject(e); });
    req.end();
  });
}
