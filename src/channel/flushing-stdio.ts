/**
 * The SDK's stdio transport resolves a send as soon as the chunk is buffered in Node, which may
 * be before it reaches the pipe: a crash then loses a message already marked delivered (seen:
 * 7 of 300). This one resolves when the write has been handed to the OS, so "delivered" means
 * "in Claude Code's pipe".
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export class FlushingStdioServerTransport extends StdioServerTransport {
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {
    super(process.stdin, out as never);
  }

  override send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      this.out.write(serializeMessage(message), (err) => (err ? reject(err) : resolve()));
    });
  }
}
