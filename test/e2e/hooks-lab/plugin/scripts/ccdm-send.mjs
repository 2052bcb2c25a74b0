#!/usr/bin/env node
// ccdm-send.mjs TO FROM (TEXT | @FILE) [--priority P] [--type T]: queue a message in the prototype's
// mailbox and ring the recipient's bell (what cc-dm's dm tool does after its store commit).
import fs from 'node:fs';
import { send } from './mailbox.mjs';
const [to, from, text, ...rest] = process.argv.slice(2);
if (!to || !from || text === undefined) {
  process.stderr.write('usage: ccdm-send.mjs TO FROM (TEXT | @FILE) [--priority P] [--type T]\n');
  process.exit(2);
}
const meta = {};
for (let i = 0; i < rest.length; i += 2) {
  if (rest[i] === '--priority') meta.priority = rest[i + 1];
  if (rest[i] === '--type') meta.message_type = rest[i + 1];
}
const content = text.startsWith('@') ? fs.readFileSync(text.slice(1), 'utf8') : text;
const msg = send({ to, from, content, meta });
process.stdout.write(JSON.stringify({ success: true, message_id: msg.id, state: 'queued', seq: msg.seq }) + '\n');
