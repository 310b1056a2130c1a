/**
 * Scopes of the Federation API (HLD §7). A peer's token carries them alongside the tenant and
 * principal it acts for; they join the shared scope list when federation is served.
 */
export const federationScopes = {
  peerRead: 'federation:read',
  runsForward: 'federation:forward',
  eventsIngest: 'federation:ingest',
} as const;
