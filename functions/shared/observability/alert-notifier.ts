import type { Clock } from '../timing/clock.ts';
import type { AlarmDefinition } from './alarm-catalog.ts';
import type { AlertDedupPort } from './alert-dedup-port.ts';

/** One alarm that fired: what the e-mail reports. Holds ids and figures only, never tenant data. */
export type AlertEvent = {
  /** The alarm (a catalog entry, or the test alert's stand-in). */
  alarm: Pick<
    AlarmDefinition,
    | 'description'
    | 'comparison'
    | 'threshold'
    | 'unit'
    | 'evaluation_periods'
    | 'period_seconds'
    | 'next_step'
  > & { id: string };
  nodeId: string;
  stage: string;
  /** The value that breached (the last period's); NaN when the alarm fired on missing data. */
  value: number;
  /** Set when the alarm fired because its metric had no data for this many periods. */
  noDataPeriods?: number;
  /**
   * The alarm fired straight from "insufficient data" (typically a freshly created alarm whose
   * metric has no point yet): mailed, but under a dedup key of its own, so it never mutes the
   * window of a real firing that follows.
   */
  fromInsufficientData?: boolean;
  /** When the evaluator decided, epoch ms. */
  firedAtMs: number;
  /** A per-tenant alarm's tenant id (its id only). */
  tenantId?: string;
  /** A test alert (`agentos validate --test-alert`): says so in its subject. */
  test?: boolean;
  /** A test alert's own id (in its subject and a header), by which `validate` finds its e-mail. */
  testId?: string;
};

/** An e-mail ready for a transport. */
export type AlertEmail = { subject: string; text: string; headers: Record<string, string> };

/** Sends one e-mail; throws when the server refused it or did not answer in time. */
export type AlertTransport = {
  send(email: AlertEmail): Promise<{ messageId: string }>;
};

/**
 * The alarm a test alert reports (`agentos validate --test-alert`): it goes through the same
 * notifier, SMTP server and mailbox as a real one, and says it is a test.
 */
export const testAlarm: AlertEvent['alarm'] = {
  id: 'test_alert',
  description: 'A test of alert delivery',
  comparison: '>=',
  threshold: 1,
  unit: 'test alerts',
  evaluation_periods: 1,
  period_seconds: 60,
  next_step: 'nothing to do: this e-mail arriving is the test passing',
};

/** The header that carries the alarm id, so a mailbox (and the local sink) can count alerts. */
export const alertIdHeader = 'X-AgentOS-Alarm';

/** The header that carries a test alert's id. */
export const testIdHeader = 'X-AgentOS-Test-Id';

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/**
 * Composes the e-mail of an alert (HLD §9.3): what fired, on which node and stage, the value against
 * the threshold, when, and the command or dashboard to look at next. Only the event's fields go in:
 * no configuration, no credentials, no tenant data beyond the tenant id.
 */
export function composeAlertEmail(event: AlertEvent): AlertEmail {
  const { alarm } = event;
  const when = new Date(event.firedAtMs).toISOString();
  const tenant = event.tenantId === undefined ? '' : ` tenant ${event.tenantId}`;
  const testId = event.test === true && event.testId !== undefined ? ` (${event.testId})` : '';
  const subject = `${event.test === true ? '[TEST] ' : ''}[AgentOS ${event.stage}] ${alarm.id}${tenant} on node ${event.nodeId}${testId}`;
  const text = [
    event.test === true
      ? 'This is a test alert (agentos validate --test-alert): nothing is wrong.'
      : `Alarm ${alarm.id} fired: ${alarm.description}.`,
    '',
    `Node:      ${event.nodeId}`,
    `Stage:     ${event.stage}`,
    ...(event.tenantId === undefined ? [] : [`Tenant:    ${event.tenantId}`]),
    `Alarm:     ${alarm.id}`,
    event.noDataPeriods === undefined
      ? `Value:     ${formatValue(event.value)} ${alarm.unit} (threshold ${alarm.comparison} ${formatValue(alarm.threshold)} ${alarm.unit})`
      : `Value:     no data for ${event.noDataPeriods} period(s), treated as breaching (threshold ${alarm.comparison} ${formatValue(alarm.threshold)} ${alarm.unit})`,
    `Periods:   ${alarm.evaluation_periods} x ${alarm.period_seconds} s breaching`,
    `When:      ${when}`,
    '',
    `Next:      ${alarm.next_step}`,
    '',
  ].join('\n');
  return {
    subject,
    text,
    headers: {
      [alertIdHeader]: alarm.id,
      'X-AgentOS-Node': event.nodeId,
      ...(event.test === true && event.testId !== undefined ? { [testIdHeader]: event.testId } : {}),
    },
  };
}

/** What a {@link AlertNotifier} did with one event. */
export type NotifyOutcome =
  { sent: true; messageId: string; attempts: number } | { sent: false; reason: 'deduplicated' };

/** Settings of {@link AlertNotifier}. */
export type AlertNotifierOptions = {
  dedup: AlertDedupPort;
  transport: AlertTransport;
  clock: Clock;
  /** Repeated triggers of one alarm inside this window send one e-mail. */
  windowMs: number;
  /** Sends tried per e-mail (bounded retry), the first included. */
  maxAttempts?: number;
  /** The pause before the second attempt; doubled for each further one. */
  backoffMs?: number;
};

/** The window of one alarm's e-mails by default: an hour. */
export const defaultAlertWindowMs = 3_600_000;

/**
 * Sends an alert's e-mail unless the same alarm (and tenant) already sent one inside the window:
 * the dedup port decides with one conditional write, then the transport sends, retried a bounded
 * number of times. An e-mail that could not be sent gives its claim back and throws, so the next
 * trigger tries again rather than the alarm going quiet.
 */
export class AlertNotifier {
  readonly #options: Required<AlertNotifierOptions>;

  constructor(options: AlertNotifierOptions) {
    this.#options = { maxAttempts: 3, backoffMs: 500, ...options };
  }

  async notify(event: AlertEvent): Promise<NotifyOutcome> {
    const { dedup, transport, clock, windowMs, maxAttempts, backoffMs } = this.#options;
    // A test alert is always sent: it checks delivery, and must never be swallowed by dedup.
    const key = `${event.test === true ? `test-${event.testId ?? event.firedAtMs}` : event.alarm.id}${event.tenantId === undefined ? '' : `/${event.tenantId}`}${event.fromInsufficientData === true ? '#from-insufficient-data' : ''}`;
    const claim = await dedup.claim(key, clock.now(), windowMs);
    if (claim === undefined) return { sent: false, reason: 'deduplicated' };
    const email = composeAlertEmail(event);
    let lastError: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      try {
        const { messageId } = await transport.send(email);
        return { sent: true, messageId, attempts: attempt };
      } catch (error) {
        lastError = error;
        if (attempt < maxAttempts) await clock.sleep(backoffMs * 2 ** (attempt - 1));
      }
    }
    // The send's failure is what the caller must see; a failed give-back rides along with it (the
    // claim then lapses at the window's end instead), never in its place.
    const releaseFailure = await dedup.release(key, claim).then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    const why = lastError instanceof Error ? lastError.message : String(lastError);
    throw new AlertDeliveryError(
      `the alert e-mail of ${event.alarm.id} could not be sent after ${maxAttempts} attempts: ${why}` +
        (releaseFailure === undefined ? '' : '; giving its dedup claim back failed too'),
      { cause: lastError, ...(releaseFailure === undefined ? {} : { releaseError: releaseFailure.error }) },
    );
  }
}

/**
 * An alert e-mail the server did not take, after every attempt. Its `cause` is the last send's
 * error; `releaseError`, when set, is why its dedup claim could not be given back as well (the
 * alarm then stays quiet until the window ends).
 */
export class AlertDeliveryError extends Error {
  override readonly name = 'AlertDeliveryError';
  readonly releaseError: unknown;

  constructor(message: string, options: { cause: unknown; releaseError?: unknown }) {
    super(message, { cause: options.cause });
    this.releaseError = options.releaseError;
  }
}
