/** The console's guard in one process (fast): token, page cookie, one-time codes, Host and Origin rules, JSON-only writes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { CODE_TTL_MS, ConsoleAuth, cookieName, guard } from '../../src/console/guard.js';

const PORT = 43210;
let clock = Date.now();
const auth = new ConsoleAuth(() => clock);
const token = auth.token;
const app = new Hono();
app.use('*', guard(auth, () => PORT));
app.get('/', (c) => c.text('page'));
app.get('/api/x', (c) => c.text('x'));
app.post('/api/x', (c) => c.text('posted'));

const req = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
  app.request(`http://127.0.0.1:${PORT}${path}`, { ...init, headers: { host: `127.0.0.1:${PORT}`, ...headers } });
const withCookie = { cookie: `other=1; ${cookieName(PORT)}=${auth.pageCookie}` };
const withToken = { 'x-cc-dm-token': token };

test('tokens are long and random', () => {
  assert.ok(token.length >= 32);
  assert.notEqual(new ConsoleAuth().token, new ConsoleAuth().token);
  assert.notEqual(auth.pageCookie, token, 'the cookie is not the token');
});

test('the first load moves the token into the fragment (never sent to a server) and sets a page cookie that is not the token', async () => {
  const r = await req(`/?token=${token}`);
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), `/#k=${token}`);
  const set = r.headers.get('set-cookie')!;
  assert.match(set, new RegExp(`^${cookieName(PORT)}=${auth.pageCookie};`));
  assert.doesNotMatch(set, new RegExp(token));
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Strict/);
  assert.equal((await req('/?token=nope')).status, 401);
  assert.equal((await req(`/api/x?token=${token}`)).status, 401, 'the query token works only for the first page load');
});

test('a cookie alone loads only the (data-free) page; every API call needs the token header', async () => {
  assert.equal((await req('/')).status, 401);
  assert.equal((await req('/api/x')).status, 401);
  assert.equal((await req('/', withCookie)).status, 200, 'the page reloads with its cookie');
  assert.equal((await req('/api/x', withCookie)).status, 401, 'the cookie alone reads nothing');
  assert.equal((await req('/api/x', { ...withCookie, 'content-type': 'application/json' }, { method: 'POST', body: '{}' })).status, 401, 'and does nothing');
  assert.equal((await req('/api/x', { cookie: `${cookieName(PORT)}=${token}` })).status, 401, 'not even a cookie holding the token');
  assert.equal((await req('/api/x', withToken)).status, 200);
  assert.equal((await req('/api/x', { 'x-cc-dm-token': token.slice(0, -1) })).status, 401);
  assert.equal((await req('/api/x', { 'x-cc-dm-token': `${token}x` })).status, 401);
});

test('a code for the browser opener works once, and only for a few seconds', async () => {
  const code = auth.newCode();
  assert.ok(!code.includes(token));
  const first = await req(`/?code=${code}`);
  assert.equal(first.status, 303);
  assert.equal(first.headers.get('location'), `/#k=${token}`);
  const again = await req(`/?code=${code}`);
  assert.equal(again.status, 401, 'used once');
  assert.match(await again.text(), /already used or has expired/);
  const late = auth.newCode();
  clock += CODE_TTL_MS + 1;
  assert.equal((await req(`/?code=${late}`)).status, 401, 'expired');
  assert.equal((await req('/?code=made-up')).status, 401);
  assert.equal((await req(`/api/x?code=${auth.newCode()}`)).status, 401, 'a code opens the page, nothing else');
});

test('Host must be this console; Origin, when sent, too', async () => {
  assert.equal((await req('/api/x', { ...withToken, host: `localhost:${PORT}` })).status, 200);
  for (const host of [`evil.example:${PORT}`, '127.0.0.1', `127.0.0.1:${PORT + 1}`, `127.0.0.1.evil.example:${PORT}`, '']) {
    assert.equal((await req('/api/x', { ...withToken, host })).status, 403, `Host "${host}"`);
  }
  for (const origin of ['http://evil.example', `http://127.0.0.1:${PORT + 1}`, `https://127.0.0.1:${PORT}`, 'null']) {
    assert.equal((await req('/api/x', { ...withToken, origin })).status, 403, `Origin "${origin}"`);
  }
  assert.equal((await req('/api/x', { ...withToken, origin: `http://127.0.0.1:${PORT}` })).status, 200);
});

test('state changes only as JSON', async () => {
  const post = (ct: string) => req('/api/x', { ...withToken, 'content-type': ct }, { method: 'POST', body: '{}' });
  assert.equal((await post('application/json')).status, 200);
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) assert.equal((await post(ct)).status, 403, ct);
});
