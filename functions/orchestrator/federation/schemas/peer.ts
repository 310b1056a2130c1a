import { z } from 'zod';
import { TenantIdSchema } from '../../../shared/auth/auth-context.ts';
import { NodeIdSchema } from './peer-identity.ts';

/** The most tenants one peer may act for on this node. */
export const maxPeerTenants = 100;

/**
 * One tenant a peer may act for (HLD §7.1): `tenant_id` on this node, `peer_tenant_id` the same
 * tenant's id on the peer (ids may differ across nodes). Tokens the peer signs name the tenant as
 * the peer knows it, `peer_tenant_id`; this node acts for `tenant_id`.
 */
export const PeerTenantSchema = z
  .strictObject({
    tenant_id: TenantIdSchema.describe('The tenant on this node.'),
    peer_tenant_id: TenantIdSchema.describe('The same tenant’s id on the peer.'),
  })
  .meta({ id: 'PeerTenant' });

export type PeerTenant = z.infer<typeof PeerTenantSchema>;

/**
 * A peer's URL: https, or plain http to a loopback host only (nodes side by side on one machine). A
 * peer's keys fetched over plain http across a network could be swapped by anyone on the path.
 */
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).refine(
  (value) => {
    // Not a URL at all is the url check's to report.
    if (!URL.canParse(value)) return true;
    const url = new URL(value);
    return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  },
  { error: 'must be https (plain http only to a loopback host: localhost, 127.0.0.1, [::1])' },
);

/** What an operator gives to trust a peer. */
export const PeerSpecSchema = z
  .strictObject({
    peer_id: NodeIdSchema.describe('The peer’s node id: the `iss` of the tokens it signs.'),
    base_url: httpUrl.describe('The peer’s Orchestrator base URL.'),
    jwks_url: httpUrl.describe('Where the peer publishes the public keys of the tokens it signs.'),
    tenants: z
      .array(PeerTenantSchema)
      .max(maxPeerTenants)
      .refine((list) => new Set(list.map((t) => t.tenant_id)).size === list.length, {
        error: 'must name each tenant of this node once',
      })
      .refine((list) => new Set(list.map((t) => t.peer_tenant_id)).size === list.length, {
        error: 'must name each tenant of the peer once',
      })
      .describe('The tenants the peer may act for; empty, none.'),
  })
  .meta({ id: 'PeerSpec' });

export type PeerSpec = z.infer<typeof PeerSpecSchema>;

/** A trusted peer as the node keeps it. */
export const PeerSchema = PeerSpecSchema.extend({
  object: z.literal('peer'),
  created_at: z.iso.datetime(),
  created_by: z.string(),
}).meta({ id: 'Peer' });

export type Peer = z.infer<typeof PeerSchema>;

/** The local tenant a peer's tenant id stands for, or undefined when the peer may not act for it. */
export function localTenantOf(peer: Pick<Peer, 'tenants'>, peerTenantId: string): string | undefined {
  return peer.tenants.find((tenant) => tenant.peer_tenant_id === peerTenantId)?.tenant_id;
}

/** The peer's id of a local tenant, or undefined when the peer may not act for it. */
export function peerTenantOf(peer: Pick<Peer, 'tenants'>, tenantId: string): string | undefined {
  return peer.tenants.find((tenant) => tenant.tenant_id === tenantId)?.peer_tenant_id;
}
