import type { Message } from '@aws-sdk/client-sqs';
import { z } from 'zod';

/**
 * Received work waiting for a worker, one first-in-first-out lane per tenant, handed out round-robin
 * across tenants (HLD §10.2 fair scheduling): however long one tenant's backlog, the next batch
 * takes one item of every waiting tenant before a second of any.
 */
export class TenantLanes<T> {
  readonly #lanes = new Map<string, T[]>();
  /** The tenants with waiting items, the next to serve first. */
  #turns: string[] = [];
  #size = 0;

  /** Items waiting across all tenants. */
  get size(): number {
    return this.#size;
  }

  push(tenant: string, item: T): void {
    const lane = this.#lanes.get(tenant);
    if (lane === undefined) {
      this.#lanes.set(tenant, [item]);
      this.#turns.push(tenant);
    } else {
      lane.push(item);
    }
    this.#size += 1;
  }

  /** Up to `max` items, one per tenant per turn, in each tenant's arrival order. */
  take(max: number): T[] {
    const taken: T[] = [];
    while (taken.length < max && this.#turns.length > 0) {
      const tenant = this.#turns.shift() as string;
      const lane = this.#lanes.get(tenant) as T[];
      taken.push(lane.shift() as T);
      if (lane.length > 0) {
        this.#turns.push(tenant);
      } else {
        this.#lanes.delete(tenant);
      }
    }
    this.#size -= taken.length;
    return taken;
  }
}

/**
 * The tenant a step message belongs to: its message group id (the step queue sends the tenant
 * there), else the Auth Context in its body (messages the state machines send), else `''`, one
 * lane for every message that names no tenant.
 */
export function tenantOfMessage(message: Message): string {
  const group = message.Attributes?.MessageGroupId;
  if (group !== undefined && group !== '') return group;
  let body: unknown;
  try {
    body = JSON.parse(message.Body ?? '');
  } catch {
    // Not JSON: the step worker rejects it (towards the DLQ); here it only needs a lane.
    return '';
  }
  const named = NamesTenantSchema.safeParse(body);
  return named.success ? named.data.auth.tenant_id : '';
}

const NamesTenantSchema = z.object({ auth: z.object({ tenant_id: z.string() }) });
