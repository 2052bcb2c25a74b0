/** Tool definitions: the exact names and arguments of cc-dm 1.3, plus status, history and inbox. */
import { MESSAGE_TYPES, PRIORITIES, TTL_MAX_S, TTL_MIN_S, CONTENT_MAX_BYTES } from '../bus/validate.js';

const metaProps = {
  priority: { type: 'string', enum: [...PRIORITIES], description: 'How urgent the message is.' },
  message_type: { type: 'string', enum: [...MESSAGE_TYPES], description: 'What kind of message this is.' },
  thread_id: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,64}$', description: 'Groups messages of one conversation; reuse the thread_id of the message you answer.' },
};
const content = { type: 'string', description: `The message text (at most ${CONTENT_MAX_BYTES / 1024} KiB).` };

export const TOOLS = [
  {
    name: 'dm',
    description: 'Send a direct message to another cc-dm session by name. It lands in that session\'s context as a <channel> event, or waits in its mailbox if it is not running. Use this (not the built-in SendMessage) for cc-dm sessions.',
    inputSchema: {
      type: 'object',
      properties: {
        to: { type: 'string', description: 'The recipient session\'s name (see who).' },
        content,
        ...metaProps,
        ttl_s: { type: 'integer', minimum: TTL_MIN_S, maximum: TTL_MAX_S, description: 'How long the message may wait for an offline recipient, in seconds (default 86400).' },
        queue_if_unknown: { type: 'boolean', description: 'Queue for a name no session has used yet (it will be delivered when a session starts under it).' },
      },
      required: ['to', 'content'],
      additionalProperties: false,
    },
  },
  {
    name: 'broadcast',
    description: 'Send a message to every other live cc-dm session in your project scope.',
    inputSchema: { type: 'object', properties: { content, ...metaProps, ttl_s: { type: 'integer', minimum: TTL_MIN_S, maximum: TTL_MAX_S } }, required: ['content'], additionalProperties: false },
  },
  {
    name: 'who',
    description: 'List the live cc-dm sessions (name, role, project, working directory, since when, last activity, whether they receive pushes) and the mailboxes of sessions that are down.',
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  },
  {
    name: 'register',
    description: 'Rename this session and/or set its role and project. The old name is released. A name held by a live session, reserved by the human, or kept as an ended session\'s mailbox cannot be taken.',
    inputSchema: {
      type: 'object',
      properties: {
        name: { type: 'string', description: 'Letters, digits, ".", "_", "-"; at most 64.' },
        role: { type: 'string', description: 'What this session does, e.g. planner, backend, tests.' },
        project: { type: 'string', description: 'Project tag: tagged sessions reach only their own project.' },
      },
      required: ['name', 'role'],
      additionalProperties: false,
    },
  },
  {
    name: 'status',
    description: 'Where is a message you sent or received: per recipient, queued / delivered / replied / expired, with times.',
    inputSchema: { type: 'object', properties: { message_id: { type: 'string' } }, required: ['message_id'], additionalProperties: false },
  },
  {
    name: 'history',
    description: 'Re-read your recent messages (sent and received), optionally with one peer, in one thread, or matching words. Useful after a compaction.',
    inputSchema: {
      type: 'object',
      properties: {
        peer: { type: 'string' }, thread_id: metaProps.thread_id, query: { type: 'string', description: 'Words to search for.' },
        limit: { type: 'integer', minimum: 1, maximum: 200, description: 'Default 20.' },
      },
      additionalProperties: false,
    },
  },
  {
    name: 'inbox',
    description: 'Read messages waiting for you (needed when this Claude Code does not show channel pushes); they are marked delivered.',
    inputSchema: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100 } }, additionalProperties: false },
  },
] as const;
