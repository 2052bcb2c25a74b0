// The prototype's stand-in for cc-dm's store: a file mailbox under $CCDM_PROTO_HOME (default
// ~/.cc-dm-proto). The real implementation claims from the store instead; what matters here is the
// lifecycle the hooks drive, which ports one to one:
//
//   queued/<seq>.json  --claim (atomic rename)-->  claimed/<seq>.json  --confirm-->  confirmed/<seq>.json
//        ^                                              |
//        +------ requeue (claimed, never shown, its Claude Code gone or the claim stale) ------+
//
//   bells/<name>        the doorbell: a file the session's Claude Code watches (SessionStart
//                       watchPaths); a sender appends one line to it after the commit. It is never
//                       deleted or replaced: Claude Code's watcher stops following a path once it
//                       has been unlinked.
//   sessions/<name>.json  the session holding the name (Claude Code session id, pid, transcript).
//   presence/<session_id>.json  written by presence.sh from the hooks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export const HOME = process.env.CCDM_PROTO_HOME || path.join(os.homedir(), '.cc-dm-proto');

export function dirs(name) {
  const box = path.join(HOME, 'mail', key(name));
  return {
    box,
    queued: path.join(box, 'queued'),
    claimed: path.join(box, 'claimed'),
    confirmed: path.join(box, 'confirmed'),
    bell: path.join(HOME, 'bells', key(name)),
    session: path.join(HOME, 'sessions', key(name) + '.json'),
  };
}

/** Names compare trimmed and case-folded; the key is also a safe file name. */
export function key(name) {
  return String(name).trim().toLowerCase().replace(/[^a-z0-9._-]/g, '_').slice(0, 64) || '_';
}

export function ensure(name) {
  const d = dirs(name);
  for (const p of [d.queued, d.claimed, d.confirmed, path.dirname(d.bell), path.dirname(d.session)]) fs.mkdirSync(p, { recursive: true, mode: 0o700 });
  // The bell is created once and then only appended to.
  fs.closeSync(fs.openSync(d.bell, 'a', 0o600));
  return d;
}

function writeAtomic(file, data) {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, data, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Queue a message and ring the recipient's bell. Returns the message. */
export function send({ to, from, content, kind = 'session', meta = {} }) {
  const d = ensure(to);
  const now = Date.now();
  // Order per mailbox: a sortable sequence (time, then a counter file under a lock-free rename).
  const seq = `${String(now).padStart(15, '0')}-${process.hrtime.bigint().toString().padStart(20, '0')}-${randomBytes(2).toString('hex')}`;
  const msg = { id: 'm_' + randomBytes(6).toString('hex'), seq, to, from, sender_kind: kind, sent_at: new Date(now).toISOString(), meta, content };
  writeAtomic(path.join(d.queued, seq + '.json'), JSON.stringify(msg));
  ring(to);
  return msg;
}

/** Ring: append a line to the bell (never replace it). */
export function ring(name) {
  const d = ensure(name);
  fs.appendFileSync(d.bell, `${Date.now()}\n`);
}

export function list(dir) {
  try {
    return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return [];
  }
}

/**
 * Claim the next message of a mailbox for this session: an atomic rename from queued/ to
 * claimed/, so two hooks (or a hook and the MCP server) racing for it deliver it once.
 */
export function claimNext(name, claim) {
  const d = dirs(name);
  for (const f of list(d.queued)) {
    const dst = path.join(d.claimed, f);
    try {
      fs.renameSync(path.join(d.queued, f), dst);
    } catch {
      continue; // someone else took it
    }
    const msg = readJson(dst);
    if (!msg) continue;
    msg.claim = { ...claim, claimed_at: Date.now(), parts_sent: 0 };
    writeAtomic(dst, JSON.stringify(msg));
    return msg;
  }
  return undefined;
}

/** Claimed messages of this mailbox, oldest first. */
export function claimed(name) {
  const d = dirs(name);
  return list(d.claimed).map((f) => ({ file: path.join(d.claimed, f), msg: readJson(path.join(d.claimed, f)) })).filter((x) => x.msg);
}

export function updateClaimed(file, msg) {
  writeAtomic(file, JSON.stringify(msg));
}

export function confirm(name, file, msg, how) {
  const d = dirs(name);
  msg.confirmed = { at: Date.now(), how };
  writeAtomic(path.join(d.confirmed, path.basename(file)), JSON.stringify(msg));
  try {
    fs.unlinkSync(file);
  } catch {
    /* already moved */
  }
}

export function requeue(name, file, msg, why) {
  const d = dirs(name);
  msg.requeued = [...(msg.requeued ?? []), { at: Date.now(), why, claim: msg.claim }];
  delete msg.claim;
  writeAtomic(path.join(d.queued, path.basename(file)), JSON.stringify(msg));
  try {
    fs.unlinkSync(file);
  } catch {
    /* gone */
  }
}

export function queuedCount(name) {
  return list(dirs(name).queued).length;
}

export function nonce() {
  return randomBytes(6).toString('hex');
}
