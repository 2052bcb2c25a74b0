/** `cc-dm console`: starts the web console and keeps it running until Ctrl-C. */
import { spawn } from 'node:child_process';
import { startConsole } from '../console/server.js';
import { openContext, requireHuman } from './context.js';
import { c, visible } from './format.js';

/** Opens the URL in the desktop's browser, if there is one; failing that, the printed URL is enough. */
function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    /* no browser here */
  }
}

export async function runConsole(o: { port?: number; open: boolean }): Promise<void> {
  const ctx = await openContext();
  // The console sends and approves as the human: a model inside Claude Code must not get its URL.
  try {
    requireHuman(ctx.cfg, 'cc-dm console');
  } catch (e) {
    await ctx.close();
    throw e;
  }
  let running;
  try {
    running = await startConsole(ctx.bus, { port: o.port });
  } catch (e) {
    await ctx.close();
    throw e;
  }
  console.log(`cc-dm console: ${c.bold(running.url)}`);
  console.log(
    c.dim(visible(`store ${ctx.bus.describeStore().where}. The URL carries this run's token: keep it to yourself. Ctrl-C stops.`)),
  );
  // The opener's command line is readable by every local user: it gets a one-time code, never the token.
  if (o.open) openBrowser(running.openUrl());
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await running.close();
  await ctx.close();
}
