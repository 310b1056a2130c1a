import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { hashedSortKey, platformKeys } from '../../../shared/storage/keys.ts';
import type { PeerTokenReplayPort } from '../../ports/peer-token-replay-port.ts';

/**
 * PeerTokenReplayPort on the node's table (HLD §7.1): one item per claimed id under the peer's
 * node-level partition, written with a condition that it is new or its token has expired, and
 * carrying the table's TTL attribute (`expires_at`) so DynamoDB deletes it once it cannot matter.
 * Two live ids of one peer whose 48-bit hashes collide would refuse the second: that fails closed
 * (the caller retries with a new token), and is vanishingly rare.
 */
export class DynamoPeerTokenReplay implements PeerTokenReplayPort {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => Date;

  constructor(db: DynamoDBDocumentClient, table: string, options: { now?: () => Date } = {}) {
    this.#db = db;
    this.#table = table;
    this.#now = options.now ?? (() => new Date());
  }

  async claim(peerId: string, tokenId: string, expiresAt: Date): Promise<boolean> {
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: platformKeys.peerTokenIds(peerId),
            sk: hashedSortKey(tokenId),
            kind: 'peer_token_id',
            jti: tokenId,
            expires_at: Math.ceil(expiresAt.getTime() / 1000),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR expires_at < :now',
          ExpressionAttributeValues: { ':now': Math.floor(this.#now().getTime() / 1000) },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw storageUnavailable(error);
    }
  }
}
