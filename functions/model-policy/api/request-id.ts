import { randomUUID } from 'node:crypto';
import { RequestIdSchema } from '../../shared/contracts/model-invocation.ts';
import { InvalidRequestError } from '../../shared/errors/agentos-error.ts';

/** The `X-Request-Id` of an OpenAI-compatible call, or a fresh one (which then never collides). */
export function requestIdFrom(headers: Record<string, string>): string {
  const offered = headers['x-request-id'];
  if (offered === undefined || offered === '') return `req_${randomUUID().replace(/-/g, '')}`;
  if (!RequestIdSchema.safeParse(offered).success) {
    throw new InvalidRequestError('Invalid X-Request-Id header', [
      { field: 'X-Request-Id', message: '1-200 characters of A-Z a-z 0-9 . _ : / -' },
    ]);
  }
  return offered;
}
