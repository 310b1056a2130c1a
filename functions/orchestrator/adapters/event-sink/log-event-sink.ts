import type { Logger } from '@aws-lambda-powertools/logger';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { EventSinkPort } from '../../ports/event-sink-port.ts';
import type { RunEvent } from '../../schemas/event.ts';

/**
 * Publishes committed events as structured log lines (tenant, run, type, sequence; never the payload,
 * which may hold user content), the feed for log-based metrics and audit queries.
 */
export class LogEventSink implements EventSinkPort {
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  async publish(auth: AuthContext, events: readonly RunEvent[]): Promise<void> {
    for (const event of events) {
      this.logger.info('run event', {
        tenant_id: auth.tenant_id,
        run_id: event.run_id,
        event_type: event.type,
        sequence: event.sequence,
        event_id: event.event_id,
      });
    }
  }
}
