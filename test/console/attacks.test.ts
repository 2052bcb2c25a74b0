/**
 * Issue 13, items 2, 3 and 12 against the real `cc-dm console`:
 * - item 2: the human's browser, logged in to the console, visits another local web server. The
 *   browser hands that server whatever cookies it holds for 127.0.0.1 (every port gets them); the
 *   server's page also tries cross-origin requests. With what it got, the other server (a plain
 *   HTTP client) tries to approve a pending permission request and to read the history.
 * - item 3: `cc-dm console` opens the browser with a URL on the opener's command line, which every
 *   local user can read in /proc: another user ("nobody") reads it and tries to use it.
 * - item 12: search syntax through the console API.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { stores } from '../support/stores.js';
import { World } from '../support/world.js';
import { until } from '../support/wait.js';
import { requireSecondUid } from '../support/second-uid.js';
import { launchBrowser, raw, startConsole, type ConsoleProcess } from './harness.js';

const REQUEST = 'notifications/claude/channel/permission_request';
const T = 15_000;

/** Another local web server: records what browsers send it, and serves a page that attacks the console. */
async function otherServer(consolePort: number): Promise<{ port: number; seen: IncomingHttpHeaders[]; close(): Promise<void> }> {
  const seen: IncomingHttpHeaders[] = [];
  const target = `http://127.0.0.1:${consolePort}`;
  const html = `<!doctype html><title>cat pictures</title><script>
    const t = ${JSON.stringify(target)};
    const body = JSON.stringify({ behavior: 'allow' });
    fetch(t + '/api/approvals/evilx', { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body }).catch(() => {});
    fetch(t + '/api/approvals/evilx', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body }).catch(() => {});
    fetch(t + '/api/history', { credentials: 'include' }).then((r) => r.text()).then((x) => { window.leak = x; }).catch((e) => { window.leak = 'blocked: ' + e; });
    const f = document.createElement('form'); f.method = 'POST'; f.action = t + '/api/approvals/evilx'; f.enctype = 'text/plain';
    const i = document.createElement('input'); i.name = '{"behavior":"allow","x":"'; i.value = '"}'; f.append(i); document.documentElement.append(f);
    const frame = document.createElement('iframe'); frame.name = 'sink'; document.documentElement.append(frame); f.target = 'sink'; f.submit();
    document.title = 'done';
  </script>`;
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function cookiesOf(h: IncomingHttpHeaders): string {
  return h.cookie ?? '';
}

for (const fx of stores()) {
  describe(`attacks on the console [${fx.kind}]`, () => {
    let w: World;
    let con: ConsoleProcess;
    let browser: Browser;

    before(async () => {
      w = await World.create(fx);
      con = await startConsole(w);
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await con?.stop();
      await w?.close();
    });

    test('item 2: another local server the browser visits gets no credential that lets it act or read', async () => {
      const requester = await w.start('evilx-req', { env: { CC_DM_PERMISSION_RELAY: '1' } });
      const peer = await w.start('a2-peer');
      await peer.call('dm', { to: 'evilx-req', content: 'a private note for the human only' });
      await requester.notify(REQUEST, { request_id: 'evilx', tool_name: 'Bash', description: 'rm -rf ~', input_preview: 'rm -rf ~' });
      await until(() => w.cli(['approvals', '--json']).json.some((a: any) => a.request_id === 'evilx'), T, 'the request');

      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(con.url);
      await page.locator('#conn.live').waitFor({ timeout: T });
      await page.locator('#approvals li[data-request="evilx"]').waitFor({ timeout: T });

      const other = await otherServer(con.port);
      try {
        const attack = await context.newPage();
        await attack.goto(`http://127.0.0.1:${other.port}/`);
        await attack.waitForFunction(() => document.title === 'done' && (window as any).leak !== undefined, undefined, { timeout: T });
        const leak = await attack.evaluate(() => (window as any).leak as string);
        assert.doesNotMatch(leak, /private note/, 'the other page read no history');
        // The browser did hand the other server the cookies it holds for 127.0.0.1 (that is how browsers work).
        const cookies = other.seen.map(cookiesOf).join('; ');
        assert.ok(!cookies.includes(con.token), 'the token itself never travels in a cookie');
        // The other server now replays, as a plain HTTP client, everything it received.
        const stolen = { cookie: cookies };
        const approve = await raw(con.port, '/api/approvals/evilx', { ...stolen, 'content-type': 'application/json' }, 'POST', JSON.stringify({ behavior: 'allow' }));
        assert.equal(approve.status, 401, `approve with stolen cookies: ${approve.body}`);
        for (const path of ['/api/history', '/api/events', '/api/approvals', '/api/roster', '/api/info']) {
          assert.equal((await raw(con.port, path, stolen)).status, 401, `${path} with stolen cookies`);
        }
        const shell = await raw(con.port, '/', stolen);
        assert.doesNotMatch(shell.body, new RegExp(con.token), 'the page a cookie loads holds no token');
        assert.doesNotMatch(shell.body, /private note|rm -rf/, 'and no data');
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(w.cli(['approvals', '--json']).json.find((a: any) => a.request_id === 'evilx').state, 'pending', 'nothing was approved');
        assert.equal(requester.verdicts.length, 0);
        // The human's own tab still works, token in hand (sessionStorage of its origin only).
        await page.locator('#approvals li[data-request="evilx"] [data-action="deny"]').click();
        await requester.waitFor((p) => p.verdicts.length === 1, T, 'the human\'s verdict from the console');
        assert.equal(requester.verdicts[0]!.behavior, 'deny');
        assert.equal(await attack.evaluate(() => sessionStorage.length), 0, 'the other origin sees no console key');
      } finally {
        await other.close();
        await context.close();
      }
    });

    test('item 12: the console\'s search answers a clear 400 E_INVALID for a query without words or with a NUL', async () => {
      const tok = { 'x-cc-dm-token': con.token };
      for (const q of ['%22', '%22%22', '%00', '%2A']) {
        const r = await raw(con.port, `/api/history?q=${q}`, tok);
        assert.equal(r.status, 400, `q=${q}: ${r.body}`);
        assert.equal(JSON.parse(r.body).code, 'E_INVALID');
      }
      assert.equal((await raw(con.port, '/api/history?q=rm%20-rf', tok)).status, 200);
    });
  });
}

const sqlite = stores().find((s) => s.kind === 'sqlite');
if (sqlite) {
  describe('the browser opener\'s command line [sqlite, a second uid]', () => {
    let w: World;
    let bin: string;
    const procs: ChildProcessWithoutNullStreams[] = [];
    const seenOpeners = new Set<number>();
    before(async () => {
      w = await World.create(sqlite);
      // A stand-in for xdg-open: records the URL it was given and stays running (as a browser would).
      bin = mkdtempSync(join(tmpdir(), 'ccdm-opener-'));
      chmodSync(bin, 0o755);
      writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\necho "$1" > "${bin}/opened.$$"\ntrap 'kill $! 2>/dev/null; exit 0' TERM\nsleep 120 &\nwait\n`);
      chmodSync(join(bin, 'xdg-open'), 0o755);
    });
    after(async () => {
      for (const p of procs) p.kill('SIGTERM');
      // The openers this test started (their pids are in the names of the files they wrote).
      for (const f of readdirSync(bin).filter((x) => x.startsWith('opened.'))) {
        try { process.kill(Number(f.slice('opened.'.length)), 'SIGTERM'); } catch { /* gone */ }
      }
      rmSync(bin, { recursive: true, force: true });
      await w.close();
    });

    /** Starts `cc-dm console` with the stand-in opener; returns the printed URL, and the opener's pid. */
    async function consoleWithOpener(): Promise<{ printed: string; port: number; token: string; opener: number }> {
      const proc = w.cliAsync(['console'], { PATH: `${bin}:${process.env.PATH}` }) as unknown as ChildProcessWithoutNullStreams;
      procs.push(proc);
      let out = '';
      proc.stdout.on('data', (d) => { out += String(d); });
      await until(() => /http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/.test(out), T, 'the printed URL');
      const printed = /(http:\/\/127\.0\.0\.1:(\d+)\/\?token=([\w-]+))/.exec(out)!;
      let opener = 0;
      await until(() => {
        const fresh = readdirSync(bin).filter((f) => f.startsWith('opened.')).map((f) => Number(f.slice('opened.'.length))).filter((p) => !seenOpeners.has(p));
        opener = fresh[0] ?? 0;
        return opener > 0 && readFileSync(join(bin, `opened.${opener}`), 'utf8').trim().length > 0;
      }, T, 'the browser opener to run');
      seenOpeners.add(opener);
      return { printed: printed[1]!, port: Number(printed[2]), token: printed[3]!, opener };
    }

    /** As another local user: read the opener's command line from /proc, and try the URL on it. */
    function asNobody(opener: number): { cmdline: string; status: number; body: string } {
      const script = `const fs=require('fs');const http=require('http');
        const argv=fs.readFileSync('/proc/${opener}/cmdline','utf8').split('\\0');
        const url=argv.find((a)=>a.startsWith('http://'));
        http.get(url,(res)=>{let b='';res.on('data',(d)=>b+=d);res.on('end',()=>{console.log(JSON.stringify({cmdline:argv.join(' '),status:res.statusCode,location:res.headers.location||'',body:b}));});}).on('error',(e)=>console.log(JSON.stringify({cmdline:argv.join(' '),status:0,body:String(e)})));`;
      const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout);
    }

    test('item 3: what the opener gets on its command line is useless to another user: single use, expiring within seconds', async () => {
      requireSecondUid('the opener\'s command line check');
      // The browser uses the link first; the other user then finds it used up.
      const a = await consoleWithOpener();
      const opened = readFileSync(join(bin, `opened.${a.opener}`), 'utf8').trim();
      assert.match(opened, /^http:\/\/127\.0\.0\.1:\d+\/\?code=[\w-]+$/);
      assert.ok(!opened.includes(a.token), 'the token is never on a command line');
      const browserUse = await raw(a.port, new URL(opened).pathname + new URL(opened).search);
      assert.equal(browserUse.status, 303, 'the browser gets in');
      const nobody = asNobody(a.opener);
      assert.ok(nobody.cmdline.includes('?code='), 'the other user did read the command line');
      assert.ok(!nobody.cmdline.includes(a.token));
      assert.equal(nobody.status, 401, `used once already: ${nobody.body}`);
      // A link nobody used expires within seconds.
      const b = await consoleWithOpener();
      await new Promise((r) => setTimeout(r, 21_000));
      const late = asNobody(b.opener);
      assert.equal(late.status, 401, `expired: ${late.body}`);
      assert.match(late.body, /already used or has expired/);
      // Neither gives access to anything.
      assert.equal((await raw(b.port, '/api/history', { 'x-cc-dm-token': 'x' })).status, 401);
    });
  });
}
