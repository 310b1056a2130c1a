import { InvalidArgumentError } from 'commander';
import { TenantIdSchema } from '../../../functions/shared/auth/auth-context.ts';
import type { AgentOsClient } from '../../client/agentos-client.ts';
import { reported } from './admin-commands.ts';
import type { AdminPageOptions, ReportTarget } from './admin-commands.ts';
import { emitList, segment } from './resource-output.ts';
import type { CommandOutput } from './resource-output.ts';

/**
 * `agentos peers add|list|remove` (operator): the node's trusted federation peers (HLD §7.1), over
 * the Orchestrator's `/v1/admin/peers` routes, so the same commands serve a local and a deployed
 * node. Adding and removing write an operator report, as the tenant commands do.
 */

/** One `--tenant-map` entry: `acme` (the same id on both nodes) or `acme=acme-eu` (local=peer). */
export function tenantMapping(entry: string): { tenant_id: string; peer_tenant_id: string } {
  const [local, peer, extra] = entry.split('=');
  const ids = { tenant_id: local ?? '', peer_tenant_id: peer ?? local ?? '' };
  if (
    extra !== undefined ||
    !TenantIdSchema.safeParse(ids.tenant_id).success ||
    !TenantIdSchema.safeParse(ids.peer_tenant_id).success
  )
    throw new InvalidArgumentError(
      `"${entry}" is not a tenant mapping: give <tenant_id> or <tenant_id>=<peer_tenant_id>, each 1-63 characters of a-z, 0-9, "_" and "-"`,
    );
  return ids;
}

/** The JWKS URL a peer publishes unless told otherwise: its Orchestrator's, as `GET /v1/peer/info` names it. */
export function defaultJwksUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/.well-known/jwks.json`;
}

/**
 * Reads a peer's `GET /v1/peer/info` (HLD §7.2) before trusting it: the node must answer as
 * `peerId`, and its JWKS URL is the one its info names. Refuses, saying why, a peer that cannot be
 * reached, answers no peer info, or names itself otherwise.
 */
export async function discoverPeer(
  peerId: string,
  baseUrl: string,
  fetcher: typeof globalThis.fetch = globalThis.fetch,
): Promise<{ jwksUrl: string }> {
  const url = `${baseUrl.replace(/\/+$/, '')}/v1/peer/info`;
  let response: Response;
  try {
    response = await fetcher(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (cause) {
    throw new Error(`cannot reach ${url}: ${(cause as Error).message}`, { cause });
  }
  const text = await response.text();
  let info: { node_id?: unknown; jwks_url?: unknown } | undefined;
  try {
    info = response.ok ? (JSON.parse(text) as typeof info) : undefined;
  } catch (cause) {
    throw new Error(`${url} answered no peer info (not JSON)`, { cause });
  }
  if (info === undefined || typeof info.node_id !== 'string' || typeof info.jwks_url !== 'string')
    throw new Error(`${url} answered ${response.status} without peer info: is it an AgentOS node?`);
  if (info.node_id !== peerId)
    throw new Error(`${url} answers as node ${info.node_id}, not ${peerId}: check the peer id and URL`);
  return { jwksUrl: info.jwks_url };
}

/** What `agentos peers add` sends. */
export type PeerAddOptions = {
  baseUrl: string;
  jwksUrl?: string;
  tenants: { tenant_id: string; peer_tenant_id: string }[];
};

const peerColumns = [
  { title: 'PEER_ID', value: (p: Record<string, unknown>) => p['peer_id'] },
  { title: 'BASE_URL', value: (p: Record<string, unknown>) => p['base_url'], max: 60 },
  {
    title: 'TENANTS',
    value: (p: Record<string, unknown>) =>
      (p['tenants'] as { tenant_id: string; peer_tenant_id: string }[])
        .map((t) => (t.tenant_id === t.peer_tenant_id ? t.tenant_id : `${t.tenant_id}=${t.peer_tenant_id}`))
        .join(','),
    max: 60,
  },
  { title: 'ADDED', value: (p: Record<string, unknown>) => p['created_at'] },
];

/** `agentos peers add|list|remove` (operator). */
export const peerCommands = {
  async add(
    client: AgentOsClient,
    peerId: string,
    options: PeerAddOptions,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    const seen = new Set<string>();
    for (const { tenant_id: tenantId } of options.tenants) {
      if (seen.has(tenantId)) throw new InvalidArgumentError(`tenant ${tenantId} is mapped twice`);
      seen.add(tenantId);
    }
    await reported<Record<string, unknown>>(
      client,
      where,
      {
        action: 'peers-add',
        phase: 'trust peer',
        method: 'POST',
        path: '/v1/admin/peers',
        body: {
          peer_id: peerId,
          base_url: options.baseUrl,
          jwks_url: options.jwksUrl ?? defaultJwksUrl(options.baseUrl),
          tenants: options.tenants,
        },
        status: 201,
        report: (peer) => ({
          detail: `trusted peer ${String(peer['peer_id'])}`,
          notes: [`base URL: ${String(peer['base_url'])}`, `tenants: ${JSON.stringify(peer['tenants'])}`],
        }),
        say: (peer) =>
          `trusted peer ${String(peer['peer_id'])} for ${options.tenants.length} tenant(s); its tokens are verified with ${String(peer['jwks_url'])}\n`,
      },
      output,
    );
    return 0;
  },

  list: (client: AgentOsClient, page: AdminPageOptions, output: CommandOutput) =>
    emitList(client, '/v1/admin/peers', {}, page, peerColumns, output),

  async remove(client: AgentOsClient, peerId: string, where: ReportTarget, output: CommandOutput) {
    await reported<undefined>(
      client,
      where,
      {
        action: 'peers-remove',
        phase: 'stop trusting peer',
        method: 'DELETE',
        path: `/v1/admin/peers/${segment(peerId)}`,
        status: 204,
        report: () => ({ detail: `removed peer ${peerId}` }),
        say: () => `removed peer ${peerId}: its tokens are refused from now on\n`,
        json: () => ({ object: 'peer', peer_id: peerId, deleted: true }),
      },
      output,
    );
    return 0;
  },
};
