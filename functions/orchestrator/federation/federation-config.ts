import type { EnvSource } from '../../shared/config/env.ts';
import { defineEnvContract, envVar } from '../../shared/config/env-contract.ts';
import { ConfigurationError } from '../../shared/errors/agentos-error.ts';
import { PeerModelsSchema } from './schemas/peer-capabilities.ts';
import type { PeerCapabilities } from './schemas/peer-capabilities.ts';
import { NodeIdSchema } from './schemas/peer-identity.ts';

/**
 * What the Orchestrator's HTTP functions read to describe the node to its peers (HLD §7.2). Every
 * variable is optional, so a node that does not federate needs none of them.
 */
export const federationEnv = defineEnvContract({
  /**
   * The node's id among its peers; unset, the id in the node's table name (`agentos-<node id>`,
   * infra/resources/definitions.ts), which is the id `agentos up` was given.
   */
  AGENTOS_NODE_ID: NodeIdSchema.optional(),
  /** The model tiers and backends the node advertises to peers (JSON); unset, none. */
  AGENTOS_FEDERATION_MODELS: envVar.json(PeerModelsSchema).optional(),
  /** Forwarded runs a peer may start per minute on this node, as advertised. */
  AGENTOS_FEDERATION_RUNS_PER_MINUTE: envVar.int({ default: 60, min: 1, max: 100_000 }),
  /**
   * The shortest time the node keeps a forwarded run's events, as advertised; the node does not
   * delete run events today, so any value is a true lower bound.
   */
  AGENTOS_FEDERATION_EVENT_RETENTION_DAYS: envVar.int({ default: 30, min: 1, max: 3_650 }),
  /**
   * A Secrets Manager secret holding `{cert, key}` (PEM) the node presents to peers behind mutual TLS
   * (peer-fetch.ts); unset, the node presents no client certificate.
   */
  AGENTOS_FEDERATION_CLIENT_CERT_SECRET_ARN: envVar.optionalString(),
});

/** What the discovery routes say about the node beyond its URLs. */
export type FederationConfig = {
  nodeId: string;
  models: PeerCapabilities['models'];
  forwardedRunsPerMinute: number;
  eventRetentionDays: number;
};

const tablePrefix = 'agentos-';

/**
 * Reads the federation settings, throwing on the bad ones; `tableName` is the node's table, whose
 * name carries the node id when `AGENTOS_NODE_ID` is unset.
 */
export function federationConfigFromEnv(tableName: string, env: EnvSource = process.env): FederationConfig {
  const values = federationEnv.parse(env);
  const fromTable = tableName.startsWith(tablePrefix) ? tableName.slice(tablePrefix.length) : '';
  const nodeId = values.AGENTOS_NODE_ID ?? fromTable;
  if (!NodeIdSchema.safeParse(nodeId).success) {
    throw new ConfigurationError(
      `Invalid environment: ${federationEnv.names.AGENTOS_NODE_ID} is required when the table name carries no node id`,
    );
  }
  return {
    nodeId,
    models: values.AGENTOS_FEDERATION_MODELS ?? { tiers: [], backends: [] },
    forwardedRunsPerMinute: values.AGENTOS_FEDERATION_RUNS_PER_MINUTE,
    eventRetentionDays: values.AGENTOS_FEDERATION_EVENT_RETENTION_DAYS,
  };
}
