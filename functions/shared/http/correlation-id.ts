import { randomUUID } from 'node:crypto';

const safeId = /^[A-Za-z0-9._:-]{1,128}$/;

/** Reuses a caller's `X-Correlation-Id` when it is safe to echo; otherwise the gateway's request id or a new one. */
export function correlationIdFor(
  headers: Record<string, string>,
  gatewayRequestId: string | undefined,
): string {
  const offered = headers['x-correlation-id'];
  if (offered !== undefined && safeId.test(offered)) return offered;
  if (gatewayRequestId !== undefined && safeId.test(gatewayRequestId)) return gatewayRequestId;
  return randomUUID();
}
