import type { RouteHandlers } from '../../shared/http/bound-route.ts';
import { maxCreateRunBytes } from '../api/run-api.ts';
import { maxRunInputMessages } from '../schemas/run.ts';
import type { FederationConfig } from './federation-config.ts';
import type { peerRoutes } from './peer-api.ts';
import { maxIngestBatch } from './schemas/event-ingest.ts';
import type { PeerCapabilities } from './schemas/peer-capabilities.ts';
import { federationProtocolVersions } from './schemas/peer-identity.ts';
import type { PeerInfo } from './schemas/peer-info.ts';
import { agentosRelease } from './release.ts';

/** What the discovery answers are built from. */
export type PeerHandlerDeps = {
  federation: FederationConfig;
  /** The node's public base URL (a deployed node's stage URL); unset, the base a request arrived at. */
  publicBaseUrl: string | undefined;
  /** Runs the node runs at once across its tenants (HLD §10.2): the most a peer can have running here. */
  nodeMaxConcurrentRuns: number;
  /** Issuers whose tenant and principal claims the node takes as authoritative (HLD §7.1). */
  trustedIssuers: readonly string[];
};

/** Peers may keep the answers a few minutes, as they keep the JWKS. */
const cacheHeaders = { 'cache-control': 'public, max-age=300' };

function baseOf(publicBaseUrl: string | undefined, url: URL): string {
  return (publicBaseUrl ?? url.origin).replace(/\/+$/, '');
}

/** The handlers of the discovery routes (peer-api.ts, HLD §7.1, §7.2). */
export function peerHandlers(deps: PeerHandlerDeps): RouteHandlers<typeof peerRoutes> {
  const { federation } = deps;
  return {
    async getPeerInfo({ url }) {
      const base = baseOf(deps.publicBaseUrl, url);
      const body: PeerInfo = {
        object: 'peer.info',
        node_id: federation.nodeId,
        version: agentosRelease,
        protocol_versions: [...federationProtocolVersions],
        api_versions: ['v1'],
        endpoints: { orchestrator: base, federation: base, capabilities: `${base}/v1/peer/capabilities` },
        jwks_url: `${base}/.well-known/jwks.json`,
      };
      return { status: 200, headers: cacheHeaders, json: body };
    },
    async getPeerCapabilities({ url }) {
      const base = baseOf(deps.publicBaseUrl, url);
      const body: PeerCapabilities = {
        object: 'peer.capabilities',
        node_id: federation.nodeId,
        name: `AgentOS node ${federation.nodeId}`,
        description:
          'An AgentOS node: runs AI agents for its tenants and, through federation, for its peers’.',
        version: agentosRelease,
        protocol_versions: [...federationProtocolVersions],
        interfaces: federationProtocolVersions.map((version) => ({
          url: base,
          protocol_binding: 'HTTP+JSON' as const,
          protocol_version: version,
        })),
        features: {
          run_forwarding: true,
          event_streaming: true,
          event_ingest: true,
          push_notifications: false,
          state_transition_history: true,
        },
        default_input_modes: ['text/plain'],
        default_output_modes: ['text/plain'],
        skills: [],
        limits: {
          max_request_bytes: maxCreateRunBytes,
          max_input_messages: maxRunInputMessages,
          max_concurrent_forwarded_runs: deps.nodeMaxConcurrentRuns,
          forwarded_runs_per_minute: federation.forwardedRunsPerMinute,
          max_ingest_batch: maxIngestBatch,
          event_retention_days: federation.eventRetentionDays,
        },
        models: federation.models,
        required_fields: {
          forward_run: ['protocol_version', 'agent_id', 'input', 'origin'],
          events_ingest: [],
        },
        security: {
          token_type: 'bearer-jwt',
          audience: federation.nodeId,
          issuers: deps.trustedIssuers.length > 0 ? [...deps.trustedIssuers] : [base],
          mtls: 'recommended',
        },
      };
      return { status: 200, headers: cacheHeaders, json: body };
    },
  };
}
