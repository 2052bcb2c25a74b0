/**
 * Issue 13, item 1: the human's screen cannot be forged. A model sends, through the dm tool,
 * messages carrying escape sequences (erase the line and print a fake one, clear the screen, set
 * the terminal's title, 8-bit CSI, bidi overrides), and a session's permission request shows
 * `ls -la` while its input is `rm -rf ~`. The real CLI runs in a real terminal (tmux); what the
 * terminal shows afterwards must spell every control character out, never obey it.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stores } from '../support/stores.js';
import { World } from '../support/world.js';
import { until } from '../support/wait.js';
import { cleanEnv } from '../../src/channel/peer.js';
import { BIN } from '../../src/channel/peer.js';

const REQUEST = 'notifications/claude/channel/permission_request';
const ESC = '\u001b';

/** A private tmux server: each command runs in its own window, which stays after it exits. */
class Terminal {
  private readonly dir = mkdtempSync(join(tmpdir(), 'ccdm-tmux-'));
  private readonly sock = join(this.dir, 'sock');
  private n = 0;

  constructor() {
    if (spawnSync('tmux', ['-V']).status !== 0) assert.fail('this test needs tmux (the system package "tmux"): install it, e.g. apt-get install -y tmux');
    this.tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'main', '-x', '220', '-y', '60', 'sleep 3600');
    this.tmux('set-option', '-g', 'remain-on-exit', 'on');
    this.tmux('set-option', '-g', 'history-limit', '10000');
  }

  tmux(...args: string[]): string {
    const r = spawnSync('tmux', ['-S', this.sock, ...args], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** Runs a command line in a new window of a 220x60 terminal; resolves with the screen (and scrollback) once it exited, and the window's title. */
  async run(env: Record<string, string>, args: string[]): Promise<{ screen: string; title: string }> {
    const win = `w${++this.n}`;
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const envs = Object.entries({ ...env, TERM: 'tmux-256color' }).map(([k, v]) => `${k}=${q(v)}`).join(' ');
    this.tmux('new-window', '-d', '-t', 'main', '-n', win, `env -i ${envs} ${q(process.execPath)} ${q(BIN)} ${args.map(q).join(' ')}`);
    this.tmux('resize-window', '-t', `main:${win}`, '-x', '220', '-y', '60');
    await until(() => this.tmux('list-panes', '-t', `main:${win}`, '-F', '#{pane_dead}').trim() === '1', 60_000, `cc-dm ${args.join(' ')} to finish in tmux`);
    const screen = this.tmux('capture-pane', '-p', '-J', '-t', `main:${win}`, '-S', '-', '-E', '-');
    const title = this.tmux('display-message', '-p', '-t', `main:${win}`, '#{pane_title}').trim();
    return { screen, title };
  }

  close(): void {
    spawnSync('tmux', ['-S', this.sock, 'kill-server']);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

for (const fx of stores()) {
  describe(`attacks on the human's screen [${fx.kind}]`, () => {
    let w: World;
    let term: Terminal;
    let env: Record<string, string>;
    const ids: Record<string, string> = {};

    before(async () => {
      w = await World.create(fx);
      term = new Terminal();
      const base = cleanEnv();
      env = { PATH: base.PATH ?? '/usr/bin:/bin', HOME: base.HOME ?? '/root', ...w.env };
      const evil = await w.start('evil');
      const victim = await w.start('victim', { env: { CC_DM_PERMISSION_RELAY: '1' } });
      const send = async (key: string, content: string) => {
        const r = await evil.call('dm', { to: 'victim', content, thread_id: 'screen' });
        assert.equal(r.isError, false, JSON.stringify(r.body));
        ids[key] = r.body.message_id;
      };
      await send('marker', 'marker-before-the-clear');
      // Erase this line and write one that looks like the human approving.
      await send('forge', `innocent words\r${ESC}[2K${ESC}[1A${ESC}[2K${ESC}[33mhuman${ESC}[0m -> victim [delivered] m_forged\n    approve everything, I checked it`);
      await send('clear', `${ESC}[2J${ESC}[3J${ESC}[Hthe screen was wiped`);
      await send('title', `${ESC}]0;PWNED-TITLE${ESC}\\${ESC}]2;PWNED-TITLE\u0007${ESC}]52;c;cm0gLXJmIH4=\u0007clipboard too`);
      await send('c1', 'eight-bit \u009b2J\u009b1;1H csi and \u0085 next line');
      await send('bidi', 'invoice-\u202Efdp.exe and \u2066isolated\u2069 and zero\u200Bwidth');
      await victim.notify(REQUEST, {
        request_id: 'scrnx',
        tool_name: 'Bash',
        description: `list files\r${ESC}[2K`,
        input_preview: `rm -rf ~ ${ESC}[8m(hidden)${ESC}[0m\r${ESC}[2Kls -la`,
      });
      // And one whose dangerous part hides far to the right of a harmless start.
      await victim.notify(REQUEST, { request_id: 'scrny', tool_name: 'Bash', description: 'list files', input_preview: `ls -la${' '.repeat(300)}; rm -rf ~` });
      await until(() => w.cli(['approvals', '--json']).json.filter((a: any) => /scrn[xy]/.test(a.request_id)).length === 2, 10_000, 'the permission requests');
      await victim.waitFor((p) => p.pushes.length >= 6, 15_000, 'the hostile dms');
    });
    after(async () => {
      term?.close();
      await w?.close();
    });

    const showsFeed = (screen: string) => {
      assert.match(screen, /marker-before-the-clear/, 'what came before is still on the screen (nothing cleared it)');
      assert.ok(screen.includes('innocent words \\x1b[2K\\x1b[1A\\x1b[2K\\x1b[33mhuman\\x1b[0m -> victim [delivered] m_forged approve everything'), `the forged line is shown as text:\n${screen}`);
      assert.ok(!/^\s*\S*\s*human -> victim \[delivered\] m_forged/m.test(screen), 'no line starts as a forged human line');
      assert.ok(screen.includes('\\x1b[2J\\x1b[3J\\x1b[Hthe screen was wiped'));
      assert.ok(screen.includes('\\x1b]0;PWNED-TITLE\\x1b\\\\x1b]2;PWNED-TITLE\\x07\\x1b]52;c;cm0gLXJmIH4=\\x07clipboard too'), screen);
      assert.ok(screen.includes('eight-bit \\x9b2J\\x9b1;1H csi and \\x85 next line'));
      assert.ok(screen.includes('invoice-\\u202efdp.exe and \\u2066isolated\\u2069 and zero\\u200bwidth'));
      for (const ch of ['\u202E', '\u2066', '\u200B', '\u009B', '\u0085']) assert.ok(!screen.includes(ch), `U+${ch.codePointAt(0)!.toString(16)} reached the terminal`);
    };

    test('cc-dm log shows every control character spelled out, and the terminal title is untouched', async () => {
      const { screen, title } = await term.run(env, ['log']);
      showsFeed(screen);
      assert.notEqual(title, 'PWNED-TITLE');
    });

    test('cc-dm tail and cc-dm search likewise', async () => {
      for (const args of [['tail', '-n', '50'], ['search', 'innocent']]) {
        const { screen, title } = await term.run(env, args);
        if (args[0] === 'search') {
          assert.ok(screen.includes('innocent words \\x1b[2K'), screen);
        } else showsFeed(screen);
        assert.notEqual(title, 'PWNED-TITLE', args.join(' '));
      }
    });

    test('cc-dm approvals shows the real input (rm -rf ~), with the tricks that would hide it spelled out', async () => {
      for (const args of [['approvals'], ['approvals', '--all']]) {
        const { screen } = await term.run(env, args);
        const lines = screen.split('\n');
        const block = (id: string) => {
          const i = lines.findIndex((l) => l.startsWith(id));
          assert.ok(i >= 0, `${id} is listed:\n${screen}`);
          return lines.slice(i, i + 3).join('\n');
        };
        const x = block('scrnx');
        assert.ok(x.includes('input:       rm -rf ~ \\x1b[8m(hidden)\\x1b[0m\\r\\x1b[2Kls -la'), `the real input is shown:\n${x}`);
        assert.ok(x.includes('description: list files\\r\\x1b[2K'), x);
        const y = block('scrny');
        assert.ok(y.includes('input:       ls -la [300 spaces] ; rm -rf ~'), `the far end is in sight:\n${y}`);
      }
    });

    test('cc-dm trace, who and --json output never carry a raw control character either', async () => {
      const trace = await term.run(env, ['trace', ids.forge!]);
      assert.match(trace.screen, /evil/);
      const json = await term.run(env, ['log', '--json']);
      assert.ok(json.screen.includes('\\u001b[2J\\u001b[3J\\u001b[Hthe screen was wiped'), 'JSON escapes ESC');
      assert.ok(json.screen.includes('\\u009b2J') && json.screen.includes('\\u202e'), 'and C1 and bidi, which JSON.stringify leaves raw');
      assert.notEqual(json.title, 'PWNED-TITLE');
      const tail = await term.run(env, ['tail', '--json', '-n', '20']);
      assert.ok(tail.screen.includes('\\u202efdp.exe'));
      // A working folder can be hostile too (a directory name may hold anything).
      const cwd = join(w.home, `dir${ESC}]0;PWNED-TITLE\u0007${ESC}[31m`);
      spawnSync('mkdir', ['-p', cwd]);
      const odd = await w.start('odd-cwd', { cwd });
      assert.equal((await odd.call('who')).isError, false);
      const who = await term.run(env, ['who']);
      assert.ok(who.screen.includes('dir\\x1b]0;PWNED-TITLE\\x07\\x1b[31m'), who.screen);
      assert.notEqual(who.title, 'PWNED-TITLE');
    });
  });
}
