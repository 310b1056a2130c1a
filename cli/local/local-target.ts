import { parseNodeConfig } from '../config/node-config.ts';
import type { NodeConfig } from '../config/node-config.ts';
import { operatorClientConfig } from '../aws/target.ts';
import type { OperatorClientConfig, RemoteTarget } from '../aws/target.ts';
import { projectRoot } from './project-paths.ts';

/**
 * The configuration a local node is deployed with: the defaults (audience `agentos`, the seeded
 * tenant `default` and its admin, no external identity provider, the local models), except that its
 * data goes with its stack: a local node is a development node. Only the `tools` section of the
 * node configuration (the destinations its tools may reach, e.g. its own test servers) and its
 * `capacity` section (the runs it runs at once, and what a run meets when it is full) apply to it.
 */
export function localNodeConfig(
  tools: Partial<NodeConfig['tools']> = {},
  capacity: Partial<NodeConfig['capacity']> = {},
): NodeConfig {
  return parseNodeConfig(
    { retention: { destroy_data_with_stack: true }, tools, capacity },
    'the local node configuration',
    projectRoot,
  );
}

/**
 * A local node as a deployment target: the emulator it runs on, its node id as the stage. moto serves
 * the template URL the CDK hands to CloudFormation only when addressed by name, so a loopback
 * address becomes `localhost` (the same server for every other client).
 */
export function localTarget(nodeId: string, region: string, emulatorEndpoint: string): RemoteTarget {
  const url = new URL(emulatorEndpoint);
  if (url.hostname === '127.0.0.1') url.hostname = 'localhost';
  return { kind: 'endpoint', stage: nodeId, region, endpoint: url.origin };
}

/** SDK settings for the local node's emulator (the environment's keys, else test keys). */
export function localClientConfig(
  nodeId: string,
  region: string,
  emulatorEndpoint: string,
): OperatorClientConfig {
  return operatorClientConfig(localTarget(nodeId, region, emulatorEndpoint));
}
