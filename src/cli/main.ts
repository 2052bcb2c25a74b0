/**
 * The `cc-dm` command: a thin layer over the same bus the channel server uses. Exit codes are
 * those of errors.ts: 0 done, 1 failed, 2 bad usage or configuration, 3 refused, 4 not found,
 * 5 store unavailable (doctor: 1 when a check failed).
 */
import { Command, CommanderError, Option } from 'commander';
import { CcDmError, exitCode, isCcDmError } from '../errors.js';
import { errorText } from '../log.js';
import { nameKey } from '../names.js';
import { VERSION } from '../version.js';
import { parseArgs, DmArgs, BroadcastArgs, PRIORITIES, MESSAGE_TYPES } from '../bus/validate.js';
import type { HistoryFilter } from '../bus/bus.js';
import { openContext, requireHuman, type CliContext } from './context.js';
import { parseSince } from '../bus/time.js';
import { approvalBlock, c, ce, feedLine, Painted, printJson, safeJson, step, table, visible } from './format.js';

/** A remedy worded for a person at the CLI (the tools word theirs for a model). */
function withCliRemedy(e: unknown): unknown {
  if (isCcDmError(e) && e.details?.retryWith === 'queue_if_unknown') {
    return new CcDmError(
      e.code,
      `${e.message} To queue mail for a session that will start later under this name, run cc-dm send again with --queue.`,
      e.details,
    );
  }
  return e;
}

async function withContext<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const ctx = await openContext();
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

function num(what: string, min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new CcDmError('E_INVALID', `${what} must be a whole number from ${min} to ${max}.`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command('cc-dm')
    .description("Direct messages between Claude Code sessions, pushed into the receiving model's context.")
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride() // inherited by every subcommand: run() maps commander's errors to exit code 2
    .configureOutput({ outputError: (s, write) => write(ce.red(s)) });

  program
    .command('serve')
    .description('run the MCP channel server over stdio (the command Claude Code spawns)')
    .action(async () => {
      const { serve } = await import('../channel/main.js');
      await serve();
    });

  program
    .command('who')
    .description('list live sessions')
    .option('--all', 'also every mailbox of a session not running')
    .option('--json', 'machine-readable output')
    .action((o) =>
      withContext(async (ctx) => {
        const rows = await ctx.bus.roster({ offline: !!o.all });
        if (o.json) return printJson(rows);
        // How mail reaches each session: pushed (channel), through its agent's hooks, or only when it pulls.
        const path = (p: string | null) => (p === 'pull' ? new Painted('pull (inbox)', c.yellow) : (p ?? ''));
        const shown = rows.map((r) => ({
          ...r,
          state: r.live ? new Painted('live', c.green) : new Painted('down', c.dim),
          path: r.live ? path(r.path) : '',
          // How an idle session is woken when mail arrives (hook path): none means at its next turn.
          wake: r.live && r.wake ? (r.wake === 'none' ? new Painted('none (next turn)', c.yellow) : r.wake) : '',
          presence: r.live ? (r.presence ?? '') : '',
          agent: r.agent ?? '',
        }));
        console.log(
          table(
            shown,
            o.all
              ? ['name', 'state', 'role', 'project', 'agent', 'path', 'presence', 'wake', 'pending', 'last_active_at']
              : ['name', 'role', 'project', 'agent', 'path', 'presence', 'wake', 'pending', 'started_at', 'last_active_at', 'cwd'],
          ),
        );
      }),
    );

  program
    .command('send')
    .description('send a message as the human (sender_kind: human)')
    .usage('[options] <to> <text...>\n       cc-dm send --broadcast [--project <project>] [options] <text...>')
    .argument('<words...>', "the recipient's name, then the message (with --broadcast: only the message)")
    .option('-b, --broadcast', 'send to every live session (in --project if given)')
    .option('-p, --project <project>', 'with --broadcast: only sessions of this project')
    .addOption(new Option('--priority <p>').choices([...PRIORITIES]))
    .addOption(new Option('--type <t>', 'message_type').choices([...MESSAGE_TYPES]))
    .option('--thread <id>', 'thread_id')
    .option('--ttl <seconds>', 'how long it may wait for an offline recipient', num('--ttl', 10, 604800))
    .option('--queue', 'queue for a name no session has used yet')
    .option('--json', 'machine-readable output')
    .action((words: string[], o) =>
      withContext(async (ctx) => {
        requireHuman(ctx.cfg, 'cc-dm send');
        const meta = { priority: o.priority, message_type: o.type, thread_id: o.thread, ttl_s: o.ttl };
        let result;
        if (o.broadcast) {
          result = await ctx.bus.broadcast(
            { kind: 'human' },
            parseArgs(BroadcastArgs, strip({ content: words.join(' '), ...meta }), 'send'),
            { project: o.project },
          );
        } else {
          const [to, ...text] = words;
          if (text.length === 0)
            throw new CcDmError('E_INVALID', 'send needs a recipient name and a message (or --broadcast and a message).');
          if (o.project) throw new CcDmError('E_INVALID', '--project goes with --broadcast; a dm reaches its recipient by name.');
          result = await ctx.bus
            .dm(
              { kind: 'human' },
              parseArgs(DmArgs, strip({ to, content: text.join(' '), ...meta, queue_if_unknown: o.queue || undefined }), 'send'),
            )
            .catch((e) => {
              throw withCliRemedy(e);
            });
        }
        if (o.json) return printJson(result);
        if ('permission_answered' in result) return console.log(`${c.green('answered')} ${visible(result.note)}`);
        const to =
          'recipients' in result
            ? `${result.recipients.length} session(s): ${result.recipients.map((r) => r.name).join(', ')}`
            : `${result.to}${result.recipient_online ? '' : ' (not running: queued in its mailbox)'}`;
        console.log(`${c.green('sent')} ${visible(result.message_id)} to ${visible(to)}`);
        if (result.note) console.log(c.dim(visible(result.note)));
      }),
    );

  program
    .command('reserve')
    .description('keep a name from being taken with register (e.g. an approver not running yet)')
    .argument('<name>')
    .option('--release', 'remove the reservation')
    .option('--json', 'machine-readable output')
    .action((name: string, o) =>
      withContext(async (ctx) => {
        requireHuman(ctx.cfg, 'cc-dm reserve');
        const display = await ctx.bus.reserve(name, !o.release);
        if (o.json) return printJson({ success: true, name: display, reserved: !o.release });
        console.log(
          visible(
            o.release
              ? `"${display}" is no longer reserved.`
              : `"${display}" is reserved: only a session launched with CC_DM_SESSION_NAME=${display} can hold it.`,
          ),
        );
      }),
    );

  program
    .command('approvals')
    .description('list permission requests waiting for an answer')
    .option('--all', 'include answered ones, with who answered')
    .option('--json', 'machine-readable output')
    .action((o) =>
      withContext(async (ctx) => {
        const rows = await ctx.bus.approvals(!o.all);
        if (o.json) return printJson(rows);
        console.log(rows.length ? rows.map((a) => approvalBlock(a, !!o.all)).join('\n\n') : c.dim('(none)'));
      }),
    );

  for (const [cmd, behavior] of [
    ['approve', 'allow'],
    ['deny', 'deny'],
  ] as const) {
    program
      .command(cmd)
      .description(`${cmd} a pending permission request as the human`)
      .argument('<id>', 'the 5-letter request id')
      .option('--from <name>', 'the requesting session, when the id is pending for several')
      .option('--json', 'machine-readable output')
      .action((id: string, o) =>
        withContext(async (ctx) => {
          requireHuman(ctx.cfg, `cc-dm ${cmd}`);
          const r = await ctx.bus.humanVerdict(id, behavior, o.from);
          if (o.json) return printJson(r);
          console.log(
            `${behavior === 'allow' ? c.green('allowed') : c.red('denied')} ${visible(`${r.permission_answered.request_id} of ${r.permission_answered.requester}`)}`,
          );
        }),
      );
  }

  program
    .command('trace')
    .description('where a message is: per recipient, its state and times')
    .argument('<message_id>')
    .option('--json', 'machine-readable output')
    .action((id: string, o) =>
      withContext(async (ctx) => {
        const { content: _content, ...view } = await ctx.bus.trace(id);
        if (o.json) return printJson(view);
        console.log(
          visible(
            `${view.message_id} from ${view.from} (${view.sender_kind}) at ${view.sent_at}${view.thread_id ? ` thread ${view.thread_id}` : ''}`,
          ),
        );
        console.log(
          table(view.recipients as unknown as Record<string, unknown>[], [
            'to',
            'state',
            'queued_at',
            'delivered_at',
            'delivered_via',
            'replied_at',
            'expired_at',
            'expire_reason',
          ]),
        );
      }),
    );

  const historyOptions = (cmd: Command) =>
    cmd
      .option('--peer <name>', 'messages sent or received by this name')
      .option('--with <name>', 'with --peer: only those exchanged with this name')
      .option('--thread <id>', 'one thread')
      .option('--project <project>', 'one project')
      .option('--since <time>', 'ISO date or age (30m, 2h, 7d)')
      .option('--until <time>', 'ISO date or age')
      .option('-n, --limit <n>', 'at most this many (newest)', num('--limit', 1, 10000), 50)
      .option('--json', 'machine-readable output');
  const runHistory = (query: string | undefined, o: Record<string, any>) =>
    withContext(async (ctx) => {
      const rows = await ctx.bus.history({
        participant: o.peer ? nameKey(o.peer) : undefined,
        peer: o.with ? nameKey(o.with) : undefined,
        thread_id: o.thread,
        project: o.project,
        since: o.since ? parseSince(o.since) : undefined,
        until: o.until ? parseSince(o.until) : undefined,
        query,
        limit: o.limit,
      });
      if (o.json) return printJson(rows);
      if (rows.length === 0) console.log(c.dim('(no messages)'));
      for (const m of rows) console.log(feedLine(m));
    });
  historyOptions(program.command('log').description('message history, oldest first')).action((o) => runHistory(undefined, o));
  historyOptions(program.command('search').description('full-text search over all history').argument('<words...>')).action(
    (words: string[], o) => runHistory(words.join(' '), o),
  );

  program
    .command('tail')
    .description('the live feed of messages')
    .option('-f, --follow', 'keep printing new messages')
    .option('-n, --lines <n>', 'how many recent messages first', num('--lines', 0, 10000), 20)
    .option('--peer <name>', 'only messages sent or received by this name')
    .option('--thread <id>', 'only one thread')
    .option('--project <project>', 'only one project')
    .option('--json', 'one JSON object per line')
    .action((o) =>
      withContext(async (ctx) => {
        const filter: Omit<HistoryFilter, 'limit'> = {
          participant: o.peer ? nameKey(o.peer) : undefined,
          thread_id: o.thread,
          project: o.project,
        };
        const out = (m: Parameters<typeof feedLine>[0]) => console.log(o.json ? safeJson(m) : feedLine(m));
        const recent = o.lines > 0 ? await ctx.bus.history({ ...filter, limit: o.lines }) : [];
        recent.forEach(out);
        // Follow from the end of all history (not of the filtered part): nothing older is printed twice.
        let after = (await ctx.bus.history({ limit: 1 })).at(-1)?.seq ?? 0;
        if (recent.length) after = Math.max(after, recent.at(-1)!.seq);
        while (o.follow) {
          const rows = await ctx.bus.history({ ...filter, afterSeq: after, limit: 500 });
          rows.forEach(out);
          if (rows.length) after = rows.at(-1)!.seq;
          await new Promise((r) => setTimeout(r, 250));
        }
      }),
    );

  program
    .command('prune')
    .description('delete history older than the retention (queued mail is always kept)')
    .option('--older-than <days>', 'override CC_DM_RETENTION_DAYS', num('--older-than', 0, 36500))
    .option('--json', 'machine-readable output')
    .action((o) =>
      withContext(async (ctx) => {
        const days = o.olderThan ?? ctx.cfg.retentionDays;
        const expired = await step(
          'expiring queued mail past its time to live',
          () => ctx.bus.expire(),
          (n) => `${n} expired`,
        );
        const r = await step(
          `deleting history older than ${days} day(s)`,
          () => ctx.bus.prune(days),
          (x) => `${x.messages} message(s), ${x.sessions} session(s)`,
        );
        if (o.json) return printJson({ ...r, expired, older_than_days: days });
        console.log(
          `pruned ${r.messages} message(s) and ${r.sessions} ended session(s) older than ${days} day(s); ${expired} queued message(s) expired.`,
        );
      }),
    );

  program
    .command('doctor')
    .description('check the store, schema, sessions, doorbells, plugin and Claude Code')
    .option('--fix', 'remove stale doorbell sockets')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const { doctor } = await import('./doctor.js');
      const { loadConfig } = await import('../config.js');
      const checks = await doctor(loadConfig(), { fix: !!o.fix });
      const ok = !checks.some((x) => x.status === 'fail');
      if (!ok) process.exitCode = 1;
      if (o.json) return printJson({ ok, checks });
      const mark = { ok: c.green('ok  '), warn: c.yellow('warn'), fail: c.red('FAIL') };
      for (const x of checks) {
        console.log(`${mark[x.status]}  ${x.check.padEnd(13)} ${visible(x.detail)}`);
        if (x.fix) console.log(`      ${''.padEnd(13)} ${c.dim(`fix: ${visible(x.fix)}`)}`);
        for (const n of x.notes ?? []) console.log(`      ${''.padEnd(13)} ${c.dim(`note: ${visible(n)}`)}`);
      }
    });

  program
    .command('setup')
    .description('register cc-dm with agent CLIs (claude, codex, gemini), from this installed package; --undo removes what setup added')
    .argument('[hosts...]', 'claude, codex, gemini (default: Claude Code and every other one found here; with --undo: every host set up)')
    .option('--undo', 'remove what cc-dm setup added (never your other settings)')
    .option('--force', 'replace a registration of cc-dm from another clone or install')
    .option('--json', 'machine-readable output')
    .action(async (hosts: string[], o) => {
      const { runSetup } = await import('./setup/index.js');
      const { loadConfig } = await import('../config.js');
      const cfg = loadConfig();
      requireHuman(cfg, 'cc-dm setup');
      const results = await runSetup(cfg, {
        hosts,
        undo: !!o.undo,
        force: !!o.force,
        say: (line) => (o.json ? undefined : console.log(c.dim(line))),
      });
      if (o.json) return printJson({ success: true, results });
      for (const r of results) {
        for (const x of r.changed) console.log(`${c.green('done')}  ${x}`);
        for (const x of r.kept) console.log(`${c.dim('kept')}  ${x} ${c.dim('(already set up)')}`);
        for (const x of r.notes) console.log(`${c.yellow('note')}  ${x}`);
        if (r.launch.length) {
          const { HOSTS } = await import('./setup/index.js');
          const title =
            HOSTS.find((h) => h.host === r.host)?.launchTitle ?? 'Start each session with a name and cc-dm loaded as a channel:';
          console.log(`\n${title}\n`);
          for (const line of r.launch) console.log(`  ${line}`);
          console.log('');
        }
      }
    });

  program
    .command('config')
    .description('the effective configuration: each setting, its value and where it came from (env, file, default)')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const { loadConfig, describeConfig } = await import('../config.js');
      const cfg = loadConfig();
      const rows = describeConfig(cfg);
      if (o.json) return printJson({ config_file: cfg.configFile ?? null, settings: rows });
      console.log(
        cfg.configFile
          ? `config file: ${cfg.configFile}`
          : c.dim(`config file: none (${cfg.home}/config.toml or config.json is read when it exists)`),
      );
      console.log(table(rows, ['setting', 'value', 'source', 'file_key']));
    });

  program
    .command('console')
    .description('serve the web console on 127.0.0.1 (prints a URL with a token)')
    .option('--port <n>', 'port to listen on (default: a free one)', num('--port', 1, 65535))
    .option('--no-open', 'do not open a browser')
    .action(async (o) => {
      const { runConsole } = await import('./console.js');
      await runConsole({ port: o.port, open: o.open });
    });

  program
    .command('hook')
    .description(
      "agent hook entry points: Claude Code's plugin (session-start, drain, file-changed, confirm); Codex and Gemini CLI (codex, gemini: the event comes in the input)",
    )
    .argument('<event>', 'the hook event, or the host')
    .action(async (event: string) => {
      const { runHook } = await import('../delivery/hook-main.js');
      await runHook(event);
    });

  program
    .command('demo')
    .description('start real channel servers over stdio and show messages flowing between them')
    .option('--sessions <n>', 'how many sessions', num('--sessions', 2, 20), 3)
    .option('--messages <n>', 'how many dms', num('--messages', 1, 10000), 6)
    .action(async (o) => {
      const { demo } = await import('./demo.js');
      await demo({ sessions: o.sessions, messages: o.messages });
    });

  return program;
}

function strip<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export async function run(argv: string[]): Promise<void> {
  // `cc-dm tail -f | head`: a reader that went away ends the command quietly, as in other tools.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    // Commander has printed its message (or the help) already; help and --version are success.
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`${ce.red('cc-dm:')} ${visible(errorText(e))}\n`);
    process.exitCode = isCcDmError(e) ? exitCode(e.code) : 1;
  }
}
