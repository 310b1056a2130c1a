import { z } from 'zod';
import { AgentOsError, errorCodes } from './agentos-error.ts';

/** The one JSON error shape of every AgentOS API. */
export const ErrorEnvelopeSchema = z
  .object({
    error: z.object({
      code: z.enum(errorCodes),
      message: z.string(),
      correlation_id: z.string(),
      details: z.record(z.string(), z.unknown()),
    }),
  })
  .meta({ id: 'ErrorEnvelope' });

export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

/**
 * Maps any thrown value to a status and envelope. Unknown errors become `internal` with a generic
 * message, so stack traces, SQL-ish internals and secrets never reach a client.
 */
export function toErrorEnvelope(
  error: unknown,
  correlationId: string,
): { status: number; envelope: ErrorEnvelope } {
  if (error instanceof AgentOsError) {
    const message = error.code === 'internal' ? 'Internal error' : error.message;
    return {
      status: error.status,
      envelope: {
        error: { code: error.code, message, correlation_id: correlationId, details: error.details },
      },
    };
  }
  return {
    status: 500,
    envelope: {
      error: { code: 'internal', message: 'Internal error', correlation_id: correlationId, details: {} },
    },
  };
}
