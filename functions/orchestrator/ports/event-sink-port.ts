import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { RunEvent } from '../schemas/event.ts';

/**
 * Optional durable destination for committed events (HLD §3.1 EventSinkPort): audit trails,
 * replication to peers, analytics. Publishing happens after the event is stored; a sink failure never
 * loses the event, which stays in the run's log.
 */
export interface EventSinkPort {
  publish(auth: AuthContext, events: readonly RunEvent[]): Promise<void>;
}
