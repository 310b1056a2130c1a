import type { Logger } from '@aws-lambda-powertools/logger';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { currentTrace } from '../../../shared/observability/trace-context.ts';
import type { EventSinkPort } from '../../ports/event-sink-port.ts';
import type { EventType, RunEvent } from '../../schemas/event.ts';

/** The global metric each terminal event counts, one per terminal status (HLD §9.1). */
export const terminalRunMetrics = {
  'run.completed': 'RunsCompleted',
  'run.failed': 'RunsFailed',
  'run.canceled': 'RunsCanceled',
} as const satisfies Partial<Record<EventType, string>>;

/** A metric of {@link terminalRunMetrics}. */
export type TerminalRunMetric = (typeof terminalRunMetrics)[keyof typeof terminalRunMetrics];

/**
 * Publishes committed events as structured log lines (tenant, run, type, sequence and the trace
 * they happened in; never the payload, which may hold user content), the feed for log-based metrics
 * and audit queries, and counts runs by terminal status.
 */
export class LogEventSink implements EventSinkPort {
  private readonly logger: Logger;
  private readonly count: (name: TerminalRunMetric, value: number) => void;

  constructor(logger: Logger, count: (name: TerminalRunMetric, value: number) => void = () => undefined) {
    this.logger = logger;
    this.count = count;
  }

  async publish(auth: AuthContext, events: readonly RunEvent[]): Promise<void> {
    const trace = currentTrace();
    for (const event of events) {
      this.logger.info('run event', {
        tenant_id: auth.tenant_id,
        run_id: event.run_id,
        event_type: event.type,
        sequence: event.sequence,
        event_id: event.event_id,
        ...(trace === undefined ? {} : { trace_id: trace.traceId }),
      });
      const metric = (terminalRunMetrics as Partial<Record<string, TerminalRunMetric>>)[event.type];
      if (metric !== undefined) this.count(metric, 1);
    }
  }
}
