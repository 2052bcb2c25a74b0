#!/usr/bin/env node
// A minimal stdio MCP server that logs its environment and parent chain at start (Q9), then
// answers initialize / tools/list with nothing to offer.
import fs from 'node:fs';
import readline from 'node:readline';
const envKeys = Object.keys(process.env).filter((k) => /^(CLAUDE|CC_DM|SPIKE|MCP)/.test(k));
const chain = [];
for (let p = process.ppid; p > 1 && chain.length < 5; ) {
  try {
    const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    const rp = st.lastIndexOf(')');
    chain.push({ pid: p, comm: st.slice(st.indexOf('(') + 1, rp) });
    p = Number(st.slice(rp + 2).split(' ')[1]);
  } catch { break; }
}
if (process.env.SPIKE_LOG) fs.appendFileSync(process.env.SPIKE_LOG, JSON.stringify({ label: 'mcp-env', now: Date.now(), pid: process.pid, ppid: process.ppid, chain, env: Object.fromEntries(envKeys.map((k) => [k, /TOKEN/.test(k) ? '(set)' : process.env[k]])) }) + '\n');
const rl = readline.createInterface({ input: process.stdin });
const send = (o) => process.stdout.write(JSON.stringify(o) + '\n');
rl.on('line', (line) => {
  let m;
  try { m = JSON.parse(line); } catch { return; }
  if (m.id === undefined) return;
  if (m.method === 'initialize') send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params?.protocolVersion ?? '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'mcp-env', version: '0.0.1' } } });
  else if (m.method === 'tools/list') send({ jsonrpc: '2.0', id: m.id, result: { tools: [] } });
  else send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'no such method' } });
});
rl.on('close', () => {
  if (process.env.SPIKE_LOG) fs.appendFileSync(process.env.SPIKE_LOG, JSON.stringify({ label: 'mcp-env-stdin-closed', now: Date.now(), pid: process.pid }) + '\n');
  process.exit(0);
});
