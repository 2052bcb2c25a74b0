/** The console's guard in one process (fast): token, cookie, Host and Origin rules, JSON-only writes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { cookieName, guard, newToken } from '../../src/console/guard.js';

const PORT = 43210;
const token = newToken();
const app = new Hono();
app.use('*', guard(token, () => PORT));
app.get('/', (c) => c.text('page'));
app.get('/api/x', (c) => c.text('x'));
app.post('/api/x', (c) => c.text('posted'));

const req = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
  app.request(`http://127.0.0.1:${PORT}${path}`, { ...init, headers: { host: `127.0.0.1:${PORT}`, ...headers } });
const withCookie = { cookie: `other=1; ${cookieName(PORT)}=${token}` };

test('tokens are long and random', () => {
  assert.ok(token.length >= 32);
  assert.notEqual(newToken(), newToken());
});

test('the first load trades the token in the URL for a cookie named after the port, and drops it from the URL', async () => {
  const r = await req(`/?token=${token}`);
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), '/');
  const set = r.headers.get('set-cookie')!;
  assert.match(set, new RegExp(`^${cookieName(PORT)}=${token};`));
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Strict/);
  assert.equal((await req('/?token=nope')).status, 401);
  assert.equal((await req(`/api/x?token=${token}`)).status, 401, 'the query token works only for the first page load');
});

test('the cookie or the header is required everywhere', async () => {
  assert.equal((await req('/')).status, 401);
  assert.equal((await req('/api/x')).status, 401);
  assert.equal((await req('/', withCookie)).status, 200);
  assert.equal((await req('/api/x', { 'x-cc-dm-token': token })).status, 200);
  assert.equal((await req('/api/x', { cookie: `${cookieName(PORT + 1)}=${token}` })).status, 401, 'another port\'s cookie name does not count');
  assert.equal((await req('/api/x', { 'x-cc-dm-token': token.slice(0, -1) })).status, 401);
  assert.equal((await req('/api/x', { 'x-cc-dm-token': `${token}x` })).status, 401);
});

test('Host must be this console; Origin, when sent, too', async () => {
  assert.equal((await req('/api/x', { ...withCookie, host: `localhost:${PORT}` })).status, 200);
  for (const host of [`evil.example:${PORT}`, '127.0.0.1', `127.0.0.1:${PORT + 1}`, `127.0.0.1.evil.example:${PORT}`, '']) {
    assert.equal((await req('/api/x', { ...withCookie, host })).status, 403, `Host "${host}"`);
  }
  for (const origin of ['http://evil.example', `http://127.0.0.1:${PORT + 1}`, `https://127.0.0.1:${PORT}`, 'null']) {
    assert.equal((await req('/api/x', { ...withCookie, origin })).status, 403, `Origin "${origin}"`);
  }
  assert.equal((await req('/api/x', { ...withCookie, origin: `http://127.0.0.1:${PORT}` })).status, 200);
});

test('state changes only as JSON', async () => {
  const post = (ct: string) => req('/api/x', { ...withCookie, 'content-type': ct }, { method: 'POST', body: '{}' });
  assert.equal((await post('application/json')).status, 200);
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) assert.equal((await post(ct)).status, 403, ct);
});
