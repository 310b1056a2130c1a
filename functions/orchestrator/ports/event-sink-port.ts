import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { RunEvent } from '../schemas/event.ts';
import type { RunRecord } from './run-state-port.ts';

/**
 * Optional durable destination for committed events (HLD §3.1 EventSinkPort): audit trails,
 * replication to peers, analytics. Publishing happens after the event is stored; a sink failure never
 * loses the event, which stays in the run's log.
 */
export interface EventSinkPort {
  /**
   * `run`: the run the events belong to, as the commit that stored them left it, when the caller
   * has it; a sink that needs what never changes on a run (its creator, its origin) takes it from
   * there instead of reading the run again.
   */
  publish(auth: AuthContext, events: readonly RunEvent[], run?: RunRecord): Promise<void>;
}
