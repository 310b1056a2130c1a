import { z } from 'zod';

/** A node's id, unique among the peers that federate with it. */
export const NodeIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'node ids are 1-63 characters of a-z, 0-9 and "-"');

/** A version of the AgentOS federation protocol, e.g. `agentos-federation/1.0`. */
export const FederationProtocolVersionSchema = z
  .string()
  .regex(/^agentos-federation\/\d+\.\d+$/, 'protocol versions look like agentos-federation/1.0')
  .meta({ id: 'FederationProtocolVersion' });

/** The federation protocol versions this release speaks, newest first. */
export const federationProtocolVersions = ['agentos-federation/1.0'] as const;
