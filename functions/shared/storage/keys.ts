import { createHash } from 'node:crypto';
import { TenantIdSchema } from '../auth/auth-context.ts';
import { InternalError } from '../errors/agentos-error.ts';

/**
 * Canonical storage keys (HLD §4.2). Every key starts with `tenant/{tenant_id}/`, and every builder
 * refuses to build one without a valid tenant, so no adapter can address data outside a tenant.
 *
 * Items live in one table keyed by `pk` (string) and `sk` (number). A record's own canonical key is
 * its `pk` with `sk = 0`; the events of a run share the run's `pk` with `sk = sequence`, so a query
 * on the run returns its events in order, and an event's canonical key is
 * `tenant/{tenant_id}/runs/{run_id}/events/{sequence}`.
 */

const segment = /^[A-Za-z0-9._:@+=-]{1,200}$/;

function tenant(tenantId: string): string {
  if (!TenantIdSchema.safeParse(tenantId).success) {
    throw new InternalError('Storage key requested without a valid tenant');
  }
  return `tenant/${tenantId}`;
}

function part(value: string, what: string): string {
  if (!segment.test(value)) throw new InternalError(`Storage key has an invalid ${what}`);
  return value;
}

/** The sort key of a record itself (as opposed to an event under it). */
export const recordSortKey = 0;

/**
 * The numeric sort key of an id's item in a partition that holds one item per id (directories,
 * principals, tokens): 48 bits of the id's SHA-256, so the items of one partition have distinct keys
 * (a collision is refused by the write's condition). Stored keys depend on it: never change it.
 */
export function hashedSortKey(id: string): number {
  return createHash('sha256').update(id).digest().readUIntBE(0, 6);
}

export const storageKeys = {
  run: (tenantId: string, runId: string) => `${tenant(tenantId)}/runs/${part(runId, 'run id')}`,
  event: (tenantId: string, runId: string, sequence: number) =>
    `${tenant(tenantId)}/runs/${part(runId, 'run id')}/events/${sequence}`,
  /** The pieces of a run's transcript (`sk` = piece number from 1), so no item bounds a run (HLD §4.2). */
  runTranscript: (tenantId: string, runId: string) =>
    `${tenant(tenantId)}/runs/${part(runId, 'run id')}/transcript`,
  /** A run's step records (`sk` = step number). */
  runSteps: (tenantId: string, runId: string) => `${tenant(tenantId)}/runs/${part(runId, 'run id')}/steps`,
  /** The guard of one event id of a run (`sk` = 0): a second event with that id is refused by its condition. */
  runEventId: (tenantId: string, runId: string, eventIdHash: string) =>
    `${tenant(tenantId)}/runs/${part(runId, 'run id')}/event-ids/${part(eventIdHash, 'event id')}`,
  /** The tenant's run index (`sk` orders runs by creation), read newest first by `GET /v1/runs`. */
  runIndex: (tenantId: string) => `${tenant(tenantId)}/run-index`,
  /** One principal's part of the run index, so a member's own runs page without filtering the tenant's. */
  runIndexByPrincipal: (tenantId: string, principalHash: string) =>
    `${tenant(tenantId)}/run-index/principals/${part(principalHash, 'principal')}`,
  /** An agent: its current version at `sk = 0`, every version `n` at `sk = n` (immutable). */
  agent: (tenantId: string, agentId: string) => `${tenant(tenantId)}/agents/${part(agentId, 'agent id')}`,
  /** The canonical key of one version of an agent (stored under `agent` with `sk = version`). */
  agentVersion: (tenantId: string, agentId: string, version: number) =>
    `${tenant(tenantId)}/agents/${part(agentId, 'agent id')}/versions/${version}`,
  /** The directory of a tenant's agents: one small item per live agent, `sk` = a hash of its id. */
  agentIndex: (tenantId: string) => `${tenant(tenantId)}/indexes/agents`,
  tool: (tenantId: string, toolId: string) => `${tenant(tenantId)}/tools/${part(toolId, 'tool id')}`,
  /** The directory of a tenant's HTTP tools: one small item per tool, `sk` = a hash of its id. */
  toolIndex: (tenantId: string) => `${tenant(tenantId)}/indexes/tools`,
  usage: (tenantId: string, window: 'day' | 'month', date: string) =>
    `${tenant(tenantId)}/usage/${window}/${part(date, 'date')}`,
  usageByPrincipal: (tenantId: string, window: 'day' | 'month', date: string, principalHash: string) =>
    `${tenant(tenantId)}/usage/${window}/${part(date, 'date')}/principals/${part(principalHash, 'principal')}`,
  usageByRun: (tenantId: string, runId: string) => `${tenant(tenantId)}/usage/runs/${part(runId, 'run id')}`,
  /** One principal's share of a run's usage (stored under `usageByRun` with `sk` = its hash). */
  usageByRunPrincipal: (tenantId: string, runId: string, principalHash: string) =>
    `${tenant(tenantId)}/usage/runs/${part(runId, 'run id')}/principals/${part(principalHash, 'principal')}`,
  /** The usage records of one request id (one item per attempt, `sk` = the attempt's epoch ms). */
  usageRecords: (tenantId: string, requestHash: string) =>
    `${tenant(tenantId)}/usage/records/${part(requestHash, 'request id')}`,
  idempotency: (tenantId: string, scopeHash: string) =>
    `${tenant(tenantId)}/idempotency/${part(scopeHash, 'idempotency scope')}`,
  modelRequest: (tenantId: string, requestHash: string) =>
    `${tenant(tenantId)}/model-requests/${part(requestHash, 'request id')}`,
  modelPolicy: (tenantId: string) => `${tenant(tenantId)}/model-policy`,
  budget: (tenantId: string, scope: string, period: string) =>
    `${tenant(tenantId)}/budgets/${part(scope, 'budget scope')}/${part(period, 'period')}`,
  /**
   * The partition of one memory namespace: every entry of it, `sk` derived from a hash of the entry's
   * key, so the namespace can be listed and searched while an entry is still one item.
   */
  memoryNamespace: (tenantId: string, namespace: string) =>
    `${tenant(tenantId)}/memory/${part(namespace, 'namespace')}`,
  /** A tenant's registration (`sk` 0): status, quotas, allow-list and live revocations (HLD §5.2). */
  tenantProfile: (tenantId: string) => `${tenant(tenantId)}/profile`,
  /** The tenant's principals: one item each, `sk` = a hash of the principal id. */
  principals: (tenantId: string) => `${tenant(tenantId)}/principals`,
  /** The tokens issued to the tenant's principals: one item each, `sk` = a hash of the token id. */
  issuedTokens: (tenantId: string) => `${tenant(tenantId)}/tokens`,
  /** One of the tenant's limiter items (`sk` 0): a rate bucket or a slot pool, named by `limit`. */
  tenantLimit: (tenantId: string, limit: string) => `${tenant(tenantId)}/limits/${part(limit, 'limit')}`,
  /** Where an entry lived before namespaces had one partition (`sk` 0); read and moved on first read. */
  legacyMemory: (tenantId: string, namespace: string, keyHash: string) =>
    `${tenant(tenantId)}/memory/${part(namespace, 'namespace')}/${part(keyHash, 'memory key')}`,
} as const;

/**
 * The only keys outside a tenant: node-wide records that belong to no tenant. Nothing of a tenant's
 * data lives here, only the directory of tenant ids and the node's own limiter items.
 */
export const platformKeys = {
  /** The directory of the node's tenants: one small item per tenant, `sk` = a hash of its id. */
  tenantDirectory: () => 'platform/tenants',
  /** A node-wide limiter item (`sk` 0), e.g. the node's concurrent-run slots. */
  nodeLimit: (limit: string) => `platform/limits/${part(limit, 'limit')}`,
  /** The largest step message ages the workers noted, one item per window (`sk` = the window's number). */
  stepAge: () => 'platform/step-age',
  /** The node's trusted federation peers (HLD §7.1): one item each, `sk` = a hash of the peer id. */
  peers: () => 'platform/peers',
  /**
   * The peer token ids one peer has used (`sk` = a hash of the `jti`), each kept until its token
   * expires, so a replayed token is refused (HLD §7.1).
   */
  peerTokenIds: (peerId: string) => `platform/peer-token-ids/${part(peerId, 'peer id')}`,
};
