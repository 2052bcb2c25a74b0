/** Tests that need a second user: as root they drop to "nobody"; otherwise they fail, naming what is missing (never a skip). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

export function requireSecondUid(what: string): void {
  const uid = process.getuid?.();
  if (uid !== 0) {
    assert.fail(`${what} needs a second user: run the suite as root (it drops to "nobody" with runuser); running as uid ${uid} it cannot be checked.`);
  }
  for (const cmd of ['runuser', 'unshare']) {
    if (spawnSync(cmd, ['--help']).error) assert.fail(`${what} needs the "${cmd}" command (util-linux), which is missing.`);
  }
  if (spawnSync('id', ['nobody']).status !== 0) assert.fail(`${what} needs the user "nobody", which does not exist here.`);
}
