/**
 * Validation at the edge: tool arguments, CLI and console input. One zod schema per tool is the
 * only description of its arguments: the channel server derives the JSON Schema it lists from
 * it, and every edge validates with it. Every message says what is allowed. Unknown arguments
 * are rejected, so extra fields can never pose as routing fields.
 */
import { z } from 'zod';
import { CcDmError } from '../errors.js';

export const CONTENT_MAX_BYTES = 64 * 1024;
export const TTL_MIN_S = 10;
export const TTL_MAX_S = 7 * 24 * 3600;
export const TTL_DEFAULT_S = 24 * 3600;
export const PRIORITIES = ['urgent', 'normal', 'low'] as const;
export const MESSAGE_TYPES = ['task', 'question', 'status', 'review'] as const;
const THREAD_RE = /^[A-Za-z0-9._:-]{1,64}$/;

const str = (what: string) => z.string({ required_error: `${what} is required`, invalid_type_error: `${what} must be a string` });

const content = str('content')
  .refine((s) => s.trim().length > 0, { message: 'content is empty: write the message text' })
  // PostgreSQL cannot store NUL in text; refused on every store, so both behave alike.
  .refine((s) => !s.includes('\u0000'), { message: 'content contains a NUL character (\\u0000), which cannot be stored: remove it' })
  .refine((s) => Buffer.byteLength(s, 'utf8') <= CONTENT_MAX_BYTES, {
    message: `content is longer than the limit of ${CONTENT_MAX_BYTES} bytes (64 KiB): split it into several messages or send a file path instead`,
  })
  .describe(`The message text (at most ${CONTENT_MAX_BYTES / 1024} KiB).`);

/** Relayed permission requests travel in threads `perm:<id>`: ordinary mail may not pose as one. */
export const RELAY_THREAD_PREFIX = 'perm:';

const threadId = z
  .string({ invalid_type_error: 'thread_id must be a string' })
  .regex(THREAD_RE, {
    message: 'thread_id must be 1 to 64 characters of letters, digits, ".", "_", ":" and "-" (no quotes, spaces or angle brackets)',
  })

  .describe('Groups messages of one conversation; reuse the thread_id of the message you answer.');

const meta = {
  priority: z
    .enum(PRIORITIES, { errorMap: () => ({ message: `priority must be one of ${PRIORITIES.join(', ')}` }) })
    .describe('How urgent the message is.')
    .optional(),
  message_type: z
    .enum(MESSAGE_TYPES, { errorMap: () => ({ message: `message_type must be one of ${MESSAGE_TYPES.join(', ')}` }) })
    .describe('What kind of message this is.')
    .optional(),
  thread_id: threadId.optional(),
  ttl_s: z
    .number({ invalid_type_error: 'ttl_s must be a number of seconds' })
    .int('ttl_s must be a whole number of seconds')
    .min(TTL_MIN_S, `ttl_s must be at least ${TTL_MIN_S}`)
    .max(TTL_MAX_S, `ttl_s must be at most ${TTL_MAX_S} (7 days)`)
    .describe(`How long the message may wait for an offline recipient, in seconds (default ${TTL_DEFAULT_S}).`)
    .optional(),
};

export const DmArgs = z
  .object({
    to: str('to').describe("The recipient session's name (see who)."),
    content,
    ...meta,
    notify_when_idle: z
      .boolean({ invalid_type_error: 'notify_when_idle must be true or false' })
      .describe('Also tell me (a cc-dm message) when the recipient is next idle, i.e. has finished its turn.')
      .optional(),
    queue_if_unknown: z
      .boolean({ invalid_type_error: 'queue_if_unknown must be true or false' })
      .describe('Queue for a name no session has used yet (it will be delivered when a session starts under it).')
      .optional(),
  })
  .strict();
export type DmArgs = z.infer<typeof DmArgs>;

export const BroadcastArgs = z.object({ content, ...meta }).strict();
export type BroadcastArgs = z.infer<typeof BroadcastArgs>;

export const RegisterArgs = z
  .object({
    name: str('name').describe('Letters, digits, ".", "_", "-"; at most 64.'),
    role: str('role').describe('What this session does, e.g. planner, backend, tests.'),
    project: str('project').describe('Project tag: tagged sessions reach only their own project.').optional(),
  })
  .strict();
export const WhoArgs = z.object({}).strict();
export const StatusArgs = z.object({ message_id: str('message_id').max(64).describe('The id dm or broadcast returned (m_...).') }).strict();
export const HistoryArgs = z
  .object({
    peer: str('peer').describe('Only messages exchanged with this session.').optional(),
    thread_id: threadId.optional(),
    query: str('query').max(200).describe('Words to search for.').optional(),
    limit: z.number().int().min(1).max(200).describe('Default 20.').optional(),
  })
  .strict();
export const InboxArgs = z.object({ limit: z.number().int().min(1).max(100).describe('Default 50.').optional() }).strict();

export const PermissionRequestParams = z
  .object({
    request_id: z.string().regex(/^[A-Za-z]{1,16}$/),
    tool_name: z.string().max(200),
    description: z.string().max(4000).default(''),
    input_preview: z.string().max(4000).default(''),
  })
  .passthrough();

/** Parses input, turning zod's issues into one sentence a model or a person can act on. */
export function parseArgs<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, raw: unknown, what: string): T {
  const r = schema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const parts = r.error.issues.map((i) => {
    if (i.code === 'unrecognized_keys')
      return `unknown argument(s) ${i.keys.map((k) => `"${k}"`).join(', ')} (routing fields are set by cc-dm, not by the sender)`;
    const path = i.path.join('.');
    return path && !i.message.startsWith(path) ? `${path}: ${i.message}` : i.message;
  });
  throw new CcDmError('E_INVALID', `${what}: ${parts.join('; ')}.`);
}

/**
 * Ordinary mail (any dm or broadcast that is not a verdict) cannot travel in a relay thread, so
 * nothing but cc-dm's own relay carries `perm:<id>` (and only the relay sets kind
 * permission_request).
 */
export function checkOrdinaryThread(threadId: string | undefined): void {
  if (threadId?.toLowerCase().startsWith(RELAY_THREAD_PREFIX)) {
    throw new CcDmError(
      'E_INVALID',
      `thread_id may not start with "${RELAY_THREAD_PREFIX}": those threads belong to permission requests relayed by cc-dm itself. Use another thread_id.`,
    );
  }
}

/** A dm whose whole content is `yes <id>` or `no <id>` may be a permission verdict. */
export function parseVerdict(content: string): { behavior: 'allow' | 'deny'; requestId: string } | undefined {
  const m = /^\s*(yes|no)\s+([a-z]{5})\s*$/i.exec(content);
  if (!m) return undefined;
  return { behavior: m[1]!.toLowerCase() === 'yes' ? 'allow' : 'deny', requestId: m[2]!.toLowerCase() };
}
