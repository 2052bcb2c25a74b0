import { randomBytes, randomUUID } from 'node:crypto';

/** Message ids: short enough for a model to quote, time-ordered, unguessable enough. */
export function messageId(now = Date.now()): string {
  return `m_${now.toString(36)}${randomBytes(5).toString('hex')}`;
}

export function sessionId(): string {
  return randomUUID().replace(/-/g, '');
}
