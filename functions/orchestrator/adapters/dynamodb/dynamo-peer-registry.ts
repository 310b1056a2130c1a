import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { InternalError } from '../../../shared/errors/agentos-error.ts';
import { isConditionFailure, storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { getItem, queryPage } from '../../../shared/storage/dynamo-items.ts';
import { hashedSortKey, platformKeys } from '../../../shared/storage/keys.ts';
import { decodeCursor, encodeCursor } from '../../../shared/tenancy/tenant-paging.ts';
import type { Cursor } from '../../../shared/tenancy/tenant-paging.ts';
import { PeerSchema } from '../../federation/schemas/peer.ts';
import type { Peer, PeerSpec } from '../../federation/schemas/peer.ts';
import { PeerExistsError } from '../../ports/peer-registry-port.ts';
import type { PeerRegistryPort } from '../../ports/peer-registry-port.ts';

/** The most peers one page reads. */
const maxPageSize = 100;

/**
 * PeerRegistryPort on the node's table (HLD §7.1): one node-level partition (`platform/peers`),
 * one item per peer whose `sk` is a hash of its id, so adding is one conditional put and listing
 * one bounded query. The item holds the peer's id too: a read checks it, so a (vanishingly
 * unlikely) hash collision can never hand one peer's trust to another.
 */
export class DynamoPeerRegistry implements PeerRegistryPort {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  #key(peerId: string) {
    return { pk: platformKeys.peers(), sk: hashedSortKey(peerId) };
  }

  async add(spec: PeerSpec, stamp: { by: string; at: Date }): Promise<Peer> {
    const peer: Peer = {
      object: 'peer',
      ...structuredClone(spec),
      created_at: stamp.at.toISOString(),
      created_by: stamp.by,
    };
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...this.#key(spec.peer_id), kind: 'peer', peer_id: spec.peer_id, peer },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new PeerExistsError(spec.peer_id);
      throw storageUnavailable(error);
    }
    return peer;
  }

  async get(peerId: string): Promise<Peer | undefined> {
    const item = await getItem(this.#db, this.#table, this.#key(peerId), true);
    if (item === undefined || item['peer_id'] !== peerId) return undefined;
    return parsePeer(item);
  }

  async list(page: { limit: number; cursor?: Cursor }): Promise<{ peers: Peer[]; next: Cursor | null }> {
    const { items, resumeAfter } = await queryPage(this.#db, this.#table, platformKeys.peers(), {
      limit: Math.min(Math.max(1, page.limit), maxPageSize),
      after: page.cursor === undefined ? undefined : decodeCursor(page.cursor),
    });
    return {
      peers: items.map(parsePeer),
      next: resumeAfter === undefined ? null : encodeCursor(resumeAfter),
    };
  }

  async remove(peerId: string): Promise<boolean> {
    try {
      await this.#db.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: this.#key(peerId),
          ConditionExpression: 'peer_id = :id',
          ExpressionAttributeValues: { ':id': peerId },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw storageUnavailable(error);
    }
  }
}

function parsePeer(item: Record<string, unknown>): Peer {
  const parsed = PeerSchema.safeParse(item['peer']);
  if (!parsed.success) throw new InternalError('A stored peer record is malformed');
  return parsed.data;
}
