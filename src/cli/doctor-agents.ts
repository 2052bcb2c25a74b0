/**
 * `cc-dm doctor` for Codex CLI and Gemini CLI, where cc-dm is registered with them: the hooks
 * (Codex: and whether Codex trusts them: an untrusted hook is skipped without a word, a delivery
 * path silently off) and Gemini CLI's two wake settings. Nothing is said about a CLI cc-dm is not
 * registered with.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { errorText } from '../log.js';
import { stripJsonComments } from '../delivery/gemini-hooks.js';
import { CODEX_EVENTS, codexExecutable, listCodexHooks } from './setup/codex.js';
import { GEMINI_EVENTS, GEMINI_WAKE_SETTINGS } from './setup/gemini.js';
import { parseToml } from './setup/toml-text.js';

function readJsonc(file: string): Record<string, any> | undefined {
  try {
    const v = JSON.parse(stripJsonComments(readFileSync(file, 'utf8')));
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A doctor check (the shape of doctor.ts's Check). */
export interface AgentCheck {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
  notes?: string[];
}

const ours = (host: string) => (h: any) => typeof h?.command === 'string' && new RegExp(`\\bhook ${host}$`).test(h.command);

export async function agentChecks(cfg: Config): Promise<AgentCheck[]> {
  const out: AgentCheck[] = [];
  // Codex CLI
  const configFile = join(cfg.codexHome, 'config.toml');
  let codexCfg: Record<string, any> | undefined;
  try {
    codexCfg = existsSync(configFile) ? parseToml(readFileSync(configFile, 'utf8'), configFile) : undefined;
  } catch (e) {
    out.push({ check: 'codex', status: 'warn', detail: errorText(e) });
  }
  if (codexCfg?.mcp_servers?.['cc-dm']) {
    const hooksFile = join(cfg.codexHome, 'hooks.json');
    const hooks = readJsonc(hooksFile)?.hooks ?? {};
    const missing = CODEX_EVENTS.filter((e) => !(hooks[e] ?? []).some((g: any) => (g?.hooks ?? []).some(ours('codex'))));
    const codex = codexExecutable();
    if (missing.length) {
      out.push({
        check: 'codex',
        status: 'warn',
        detail: `cc-dm's hooks missing in ${hooksFile}: ${missing.join(', ')}`,
        fix: 'cc-dm setup codex',
      });
    } else if (!codex) {
      out.push({
        check: 'codex',
        status: 'ok',
        detail: `MCP server and hooks in ${cfg.codexHome}`,
        notes: ['codex not on PATH: hook trust not checked'],
      });
    } else {
      try {
        const listed = (await listCodexHooks(codex, cfg.codexHome, 30_000)).filter(ours('codex'));
        const bad = listed.filter((h) => h.trustStatus !== 'trusted');
        out.push(
          bad.length
            ? {
                check: 'codex',
                status: 'warn',
                detail: `Codex does not trust ${bad.length} of cc-dm's hooks (${bad.map((h) => h.trustStatus).join(', ')}): codex exec skips them without a word, the TUI asks at start`,
                fix: 'cc-dm setup codex',
              }
            : { check: 'codex', status: 'ok', detail: `MCP server and ${listed.length} trusted hooks in ${cfg.codexHome}` },
        );
      } catch (e) {
        out.push({ check: 'codex', status: 'warn', detail: `could not ask Codex about its hooks: ${errorText(e)}` });
      }
    }
  }
  // Gemini CLI
  const settingsFile = join(cfg.geminiDir, 'settings.json');
  const settings = existsSync(settingsFile) ? readJsonc(settingsFile) : undefined;
  if (settings?.mcpServers?.['cc-dm']) {
    const hooks = settings.hooks ?? {};
    const missing = GEMINI_EVENTS.filter((e) => !(hooks[e] ?? []).some((g: any) => (g?.hooks ?? []).some(ours('gemini'))));
    const get = (p: string) => p.split('.').reduce<any>((o, k) => (o && typeof o === 'object' ? o[k] : undefined), settings);
    const wakeOff = GEMINI_WAKE_SETTINGS.filter((w) => JSON.stringify(get(w.path)) !== JSON.stringify(w.value));
    if (missing.length || settings.hooksConfig?.enabled === false)
      out.push({
        check: 'gemini',
        status: 'warn',
        detail: missing.length
          ? `cc-dm's hooks missing in ${settingsFile}: ${missing.join(', ')}`
          : `hooks are off in ${settingsFile} (hooksConfig.enabled)`,
        fix: 'cc-dm setup gemini',
      });
    else if (wakeOff.length)
      out.push({
        check: 'gemini',
        status: 'warn',
        detail: `an idle Gemini CLI cannot be woken (mail waits for its next prompt): ${wakeOff.map((w) => `${w.path} is not ${JSON.stringify(w.value)}`).join('; ')}`,
        fix: `set ${wakeOff.map((w) => `${w.path}: ${JSON.stringify(w.value)}`).join(' and ')} in ${settingsFile}`,
      });
    else out.push({ check: 'gemini', status: 'ok', detail: `MCP server, hooks and wake settings in ${settingsFile}` });
  }
  return out;
}
