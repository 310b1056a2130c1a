import type { RunEvent } from '../schemas/event.ts';

/**
 * Server-sent events framing (WHATWG HTML §9.2): `id:` is the run sequence, so a reconnecting client's
 * `Last-Event-ID` is exactly where to resume; `event:` is the type; `data:` is the event as JSON.
 */
export function formatSseEvent(event: RunEvent): string {
  return `id: ${event.sequence}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** A comment line; clients ignore it, proxies see traffic. */
export function formatSseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** The reconnection delay hint. */
export function formatSseRetry(ms: number): string {
  return `retry: ${ms}\n\n`;
}
