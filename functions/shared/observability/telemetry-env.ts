import { defineEnvContract, envVar } from '../config/env-contract.ts';

/**
 * The variables every function's telemetry reads. `AGENTOS_NODE_ID` names the node on every log
 * line (HLD §9.1), so one log query can tell nodes apart; the stack and the local node set it.
 */
export const telemetryEnv = defineEnvContract({ AGENTOS_NODE_ID: envVar.optionalString() });

/** The `node_id` of log lines when the environment names no node (tests, tooling). */
export const unknownNodeId = 'unknown';
