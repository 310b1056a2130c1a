/**
 * Remembers the peer token ids (`jti`) each peer has used, until their tokens expire, so a replayed
 * token is refused (HLD §7.1). Node-level records: they belong to no tenant.
 */
export interface PeerTokenReplayPort {
  /**
   * Claims a token id of a peer: true the first time, false when it was claimed already and its
   * token has not expired. Of concurrent claims of one id, exactly one is true.
   * @throws DependencyUnavailableError when the store cannot be reached; the caller refuses the token
   */
  claim(peerId: string, tokenId: string, expiresAt: Date): Promise<boolean>;
}
