// Scripted "models" for the e2e tests: what each Claude Code session's stand-in answers.

import {
  RecordedRequest,
  Reply,
  Script,
  Standin,
  channelEvents,
  ChannelEvent,
  isMainLoopRequest,
  lastToolResultText,
  messagesText,
  toolNames,
  toolUses,
} from './standin.js';

export interface ToolCall {
  tool: string;
  input: unknown;
}

/**
 * A model that, in its main loop, makes the given tool calls one after the other (each MCP tool
 * through ToolSearch first, as current Claude Code requires), then ends its turn with `doneText`.
 * Side requests (titles and the like) get a plain answer.
 */
export function callToolsScript(calls: ToolCall[], doneText = 'Done.'): Script {
  return (r) => {
    if (!isMainLoopRequest(r)) return { text: 'OK' };
    return nextToolStep(r, calls) ?? { text: doneText };
  };
}

/**
 * The next step of a sequence of tool calls, or undefined when all have returned. Each MCP tool
 * is first selected with ToolSearch (deferred tools), unless it is offered directly.
 */
export function nextToolStep(r: RecordedRequest, calls: ToolCall[]): Reply | undefined {
  const uses = toolUses(r);
  let cursor = 0;
  for (const call of calls) {
    const pos = uses.findIndex((u, i) => i >= cursor && u.name === call.tool);
    if (pos >= 0) {
      cursor = pos + 1;
      continue;
    }
    const searched = uses
      .slice(cursor)
      .some((u) => u.name === 'ToolSearch' && JSON.stringify(u.input).includes(`select:${call.tool}`));
    if (searched || toolNames(r).includes(call.tool) || !toolNames(r).includes('ToolSearch')) {
      return { toolUse: { name: call.tool, input: call.input } };
    }
    return { toolUse: { name: 'ToolSearch', input: { query: `select:${call.tool}`, max_results: 1 } } };
  }
  return undefined;
}

/** Channel events in a request's messages. */
export function channelsIn(r: RecordedRequest): ChannelEvent[] {
  return channelEvents(messagesText(r));
}

/** A predicate for "a model request whose context holds a <channel> event matching `match`". */
export function hasChannel(match: (e: ChannelEvent) => boolean): (r: RecordedRequest) => boolean {
  return (r) => isMainLoopRequest(r) && channelsIn(r).some(match);
}

/**
 * A receiver: when a request's newest channel event (not yet answered) matches, it runs the
 * tool calls `onMessage(event)` asks for, then says `doneText`. Otherwise it acknowledges.
 */
export function reactiveScript(onMessage: (e: ChannelEvent, r: RecordedRequest) => ToolCall[] | undefined): Script {
  return (r) => {
    if (!isMainLoopRequest(r)) return { text: 'OK' };
    const events = channelsIn(r);
    const last = events[events.length - 1];
    if (!last) return { text: 'Ready.' };
    const calls = onMessage(last, r) ?? [];
    return nextToolStepSince(r, calls, last.raw) ?? { text: `Handled ${last.attrs.message_id ?? 'it'}.` };
  };
}

/** Like nextToolStep, but only counts tool uses made after the message containing `marker`. */
export function nextToolStepSince(r: RecordedRequest, calls: ToolCall[], marker: string): Reply | undefined {
  const msgs = (r.body?.messages ?? []) as { role: string; content: unknown }[];
  let idx = -1;
  msgs.forEach((m, i) => {
    if (JSON.stringify(m.content).includes(JSON.stringify(marker).slice(1, -1))) idx = i;
  });
  const sliced: RecordedRequest = { ...r, body: { ...r.body, messages: idx >= 0 ? msgs.slice(idx) : msgs } };
  return nextToolStep(sliced, calls);
}

/** When the stand-in answered with a tool_use for `tool` (the sender's tool call), or undefined. */
export function toolCallTime(s: Standin, tool: string, inputIncludes?: string): number | undefined {
  for (const r of s.requests) {
    const reply = r.reply;
    if (reply && 'toolUse' in reply && reply.toolUse.name === tool) {
      if (inputIncludes && !JSON.stringify(reply.toolUse.input).includes(inputIncludes)) continue;
      return r.repliedAt;
    }
  }
  return undefined;
}

/** The JSON result text of the newest call of `tool` seen by the stand-in, parsed if possible. */
export function toolResult(s: Standin, tool: string): any {
  for (let i = s.requests.length - 1; i >= 0; i--) {
    const t = lastToolResultText(s.requests[i], tool);
    if (t !== undefined) {
      try {
        return JSON.parse(t);
      } catch {
        return t;
      }
    }
  }
  return undefined;
}
