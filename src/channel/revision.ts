/**
 * Which MCP revision a connection speaks. Channel pushes are notifications the server sends of
 * its own accord; MCP's 2026-07-28 revision is stateless and has no path for them, and Claude
 * Code skips channels on a connection that negotiated it ("connection negotiated a modern
 * protocol revision with no unsolicited notification path"). So cc-dm answers every client with
 * a revision that has that path: the one the client asked for when it is one of them, else
 * PINNED_REVISION. Should a future SDK refuse all of them, the connection still works, but as a
 * channel-less one: pushes are off, mail waits for the inbox tool, and the log says why.
 *
 * test/unit/revision.test.ts fails on any change of the SDK's list of revisions, so an upgrade
 * of @modelcontextprotocol/sdk is reviewed here instead of silently losing pushes.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { InitializeRequestSchema, type InitializeRequest, type InitializeResult } from '@modelcontextprotocol/sdk/types.js';

/** Revisions in which a server may send unsolicited notifications (newest first). */
export const PUSH_REVISIONS: readonly string[] = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07'];
/** What cc-dm answers a client that asks for any other revision (a newer, stateless one). */
export const PINNED_REVISION = '2025-11-25';

/** The revision cc-dm offers back for the one a client asked for. */
export function chooseRevision(requested: string): string {
  return PUSH_REVISIONS.includes(requested) ? requested : PINNED_REVISION;
}

export interface Negotiated {
  requested: string;
  negotiated: string;
  /** Whether the negotiated revision lets the server push. */
  push: boolean;
}

/**
 * Makes `server` answer `initialize` with chooseRevision(requested), through the SDK's own
 * handler (which records the client's capabilities and name), and reports the outcome.
 */
export function pinRevision(server: Server, onNegotiated: (n: Negotiated) => void): void {
  const sdk = server as unknown as { _oninitialize?: (req: InitializeRequest) => Promise<InitializeResult> };
  if (typeof sdk._oninitialize !== 'function') {
    // An SDK without the handler this relies on: fail loudly at start (and in the tests).
    throw new Error('@modelcontextprotocol/sdk changed its initialize handler: review src/channel/revision.ts');
  }
  const sdkInitialize = sdk._oninitialize.bind(server);
  server.setRequestHandler(InitializeRequestSchema, async (req) => {
    const requested = req.params.protocolVersion;
    const result = await sdkInitialize({ ...req, params: { ...req.params, protocolVersion: chooseRevision(requested) } });
    onNegotiated({ requested, negotiated: result.protocolVersion, push: PUSH_REVISIONS.includes(result.protocolVersion) });
    return result;
  });
}
