import type { RunEvent } from '../schemas/event.ts';

/**
 * The events that follow `after` without a gap. A query may return a later event of a multi-event
 * commit before an earlier one is visible (DynamoDB queries are read-committed per item, not per
 * transaction), so readers only pass on the gapless prefix and read the rest again.
 */
export function gaplessAfter(events: readonly RunEvent[], after: number): RunEvent[] {
  const prefix: RunEvent[] = [];
  let expected = after + 1;
  for (const event of events) {
    if (event.sequence !== expected) break;
    prefix.push(event);
    expected += 1;
  }
  return prefix;
}
