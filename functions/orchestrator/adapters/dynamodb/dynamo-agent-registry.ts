import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { ConflictError, NotFoundError } from '../../../shared/errors/agentos-error.ts';
import { batchGet, getItem, transactWrite } from '../../../shared/storage/dynamo-items.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import type {
  AgentDefinition,
  AgentPage,
  AgentRegistryPort,
  AgentSpec,
} from '../../ports/agent-registry-port.ts';
import { pageOfIds } from '../id-page.ts';
import { agentFromStored, isLegacyHead } from '../stored-agent.ts';
import { directoryDelete, directoryIds, directoryPut } from './dynamo-id-directory.ts';
import { BoundedCache } from '../../../shared/cache/bounded-cache.ts';

/** How often a write that lost a race to another writer is tried again before it answers 409. */
const maxWriteAttempts = 5;

type Head = { item: Record<string, unknown>; agent: AgentDefinition | undefined; latest: number };

/**
 * Agents under `tenant/{tenant_id}/agents/{agent_id}` (HLD §4.2): `sk = n` holds version n, written
 * once and never changed; `sk = 0` is the head, a copy of the current version plus `latest_version`
 * (or, once deleted, a tombstone keeping `latest_version`, so a re-created agent continues the
 * numbering). Every change writes head, version and the tenant's agent directory in one
 * transaction, conditional on the head it read, so of two concurrent updates exactly one wins.
 */
export class DynamoAgentRegistry implements AgentRegistryPort {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => Date;
  /**
   * Versions read, by tenant, agent and version: a version is written once and never changed or
   * removed (a delete only tombstones the head; only `put`, for seeding and tests, rewrites one and
   * drops it here), so every step of a run after the first reads its agent from here instead of the
   * table. Bounded by count, bytes and age.
   */
  private readonly versions: BoundedCache<string, AgentDefinition>;

  constructor(db: DynamoDBDocumentClient, tableName: string, options: { now?: () => Date } = {}) {
    this.db = db;
    this.tableName = tableName;
    this.now = options.now ?? (() => new Date());
    this.versions = new BoundedCache<string, AgentDefinition>({
      maxEntries: 500,
      maxAgeMs: 15 * 60_000,
      maxWeight: 8 * 1024 * 1024,
      weigh: (agent) => Buffer.byteLength(JSON.stringify(agent), 'utf8'),
    });
  }

  async get(auth: AuthContext, agentId: string): Promise<AgentDefinition | undefined> {
    const agent = (await this.head(auth, agentId, false))?.agent;
    // The head is a copy of its current version: the run created from it reads that version next.
    if (agent !== undefined)
      this.versions.set(versionKey(auth, agentId, agent.version), structuredClone(agent));
    return agent;
  }

  async getVersion(
    auth: AuthContext,
    agentId: string,
    version: number,
  ): Promise<AgentDefinition | undefined> {
    if (!Number.isInteger(version) || version < 1) return undefined;
    const key = versionKey(auth, agentId, version);
    const cached = this.versions.get(key);
    if (cached !== undefined) return structuredClone(cached);
    const found = await this.readVersion(auth, agentId, version);
    if (found !== undefined) this.versions.set(key, structuredClone(found));
    return found;
  }

  private async readVersion(
    auth: AuthContext,
    agentId: string,
    version: number,
  ): Promise<AgentDefinition | undefined> {
    const item = await getItem(
      this.db,
      this.tableName,
      { pk: storageKeys.agent(auth.tenant_id, agentId), sk: version },
      false,
    );
    if (item !== undefined) return agentFromStored(item, agentId);
    if (version !== 1) return undefined;
    // An agent stored before versions existed has its version 1 only in its head.
    const head = await getItem(
      this.db,
      this.tableName,
      { pk: storageKeys.agent(auth.tenant_id, agentId), sk: recordSortKey },
      false,
    );
    return head !== undefined && isLegacyHead(head) ? agentFromStored(head, agentId) : undefined;
  }

  async list(auth: AuthContext, page: { limit: number; cursor?: string }): Promise<AgentPage> {
    const all = await directoryIds(
      this.db,
      this.tableName,
      storageKeys.agentIndex(auth.tenant_id),
      'agent_id',
    );
    const { ids, nextCursor } = pageOfIds(all, page);
    if (ids.length === 0) return { agents: [], nextCursor };
    const items = await batchGet(
      this.db,
      this.tableName,
      ids.map((id) => ({ pk: storageKeys.agent(auth.tenant_id, id), sk: recordSortKey })),
    );
    const byId = new Map<string, AgentDefinition>();
    for (const item of items) {
      if (item['deleted'] === true || typeof item['agent_id'] !== 'string') continue;
      byId.set(item['agent_id'], agentFromStored(item, item['agent_id']));
    }
    return { agents: ids.flatMap((id) => byId.get(id) ?? []), nextCursor };
  }

  async create(auth: AuthContext, agentId: string, spec: AgentSpec): Promise<AgentDefinition> {
    for (let attempt = 1; ; attempt++) {
      const head = await this.head(auth, agentId, true);
      if (head?.agent !== undefined) throw new ConflictError(`Agent ${agentId} already exists`);
      const at = this.now().toISOString();
      const agent = this.definition(agentId, spec, (head?.latest ?? 0) + 1, at, at);
      const codes = await this.write(auth, agent, head);
      if (codes === undefined) return agent;
      if (codes[0] === 'ConditionalCheckFailed') throw new ConflictError(`Agent ${agentId} already exists`);
      if (codes[2] === 'ConditionalCheckFailed')
        throw new ConflictError(`Agent id ${agentId} cannot be used on this node; choose another`);
      if (attempt >= maxWriteAttempts) throw new ConflictError(`Agent ${agentId} is being changed; retry`);
    }
  }

  async update(
    auth: AuthContext,
    agentId: string,
    spec: AgentSpec,
    expectedVersion?: number,
  ): Promise<AgentDefinition> {
    for (let attempt = 1; ; attempt++) {
      const head = await this.head(auth, agentId, true);
      if (head?.agent === undefined) throw new NotFoundError(`Agent ${agentId} not found`);
      if (expectedVersion !== undefined && expectedVersion !== head.latest)
        throw versionConflict(agentId, expectedVersion, head.latest);
      const agent = this.definition(
        agentId,
        spec,
        head.latest + 1,
        head.agent.created_at,
        this.now().toISOString(),
      );
      const codes = await this.write(auth, agent, head);
      if (codes === undefined) return agent;
      if (codes[2] === 'ConditionalCheckFailed')
        throw new ConflictError(`Agent id ${agentId} cannot be used on this node; choose another`);
      // Another writer moved the head first: with an expected version that is a conflict, without
      // one the update applies to the new head.
      if (expectedVersion !== undefined || attempt >= maxWriteAttempts)
        throw new ConflictError(`Agent ${agentId} was changed concurrently; read it and retry`);
    }
  }

  async delete(auth: AuthContext, agentId: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const head = await this.head(auth, agentId, true);
      if (head?.agent === undefined) throw new NotFoundError(`Agent ${agentId} not found`);
      const pk = storageKeys.agent(auth.tenant_id, agentId);
      const items = [
        {
          Put: {
            TableName: this.tableName,
            Item: {
              pk,
              sk: recordSortKey,
              kind: 'agent',
              agent_id: agentId,
              deleted: true,
              latest_version: head.latest,
            },
            ...this.headCondition(head),
          },
        },
        directoryDelete(this.tableName, storageKeys.agentIndex(auth.tenant_id), agentId),
        ...this.legacyVersion(pk, head),
      ];
      const codes = await transactWrite(this.db, items);
      if (codes === undefined) return;
      if (attempt >= maxWriteAttempts) throw new ConflictError(`Agent ${agentId} is being changed; retry`);
    }
  }

  /**
   * Writes `agent` as the new current version over `head` (absent, a tombstone, or the current
   * version). Returns undefined on success, or the transaction's per-item cancellation codes
   * (head, version, directory) when a condition failed or another transaction interfered.
   */
  private async write(auth: AuthContext, agent: AgentDefinition, head: Head | undefined) {
    const pk = storageKeys.agent(auth.tenant_id, agent.agent_id);
    return transactWrite(this.db, [
      {
        Put: {
          TableName: this.tableName,
          Item: { pk, sk: recordSortKey, kind: 'agent', ...agent, latest_version: agent.version },
          ...this.headCondition(head),
        },
      },
      {
        Put: {
          TableName: this.tableName,
          Item: { pk, sk: agent.version, kind: 'agent_version', ...agent },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      directoryPut(this.tableName, storageKeys.agentIndex(auth.tenant_id), agent.agent_id, 'agent_id'),
      ...this.legacyVersion(pk, head),
    ]);
  }

  /** The condition that the head is still the one read. */
  private headCondition(head: Head | undefined) {
    if (head === undefined) return { ConditionExpression: 'attribute_not_exists(pk)' };
    if (isLegacyHead(head.item))
      return {
        ConditionExpression: 'attribute_not_exists(latest_version) AND attribute_not_exists(deleted)',
      };
    return {
      ConditionExpression:
        head.agent === undefined
          ? 'latest_version = :v AND deleted = :t'
          : 'latest_version = :v AND attribute_not_exists(deleted)',
      ExpressionAttributeValues:
        head.agent === undefined ? { ':v': head.latest, ':t': true } : { ':v': head.latest },
    };
  }

  /** A head from before versions existed gets its version 1 stored apart when it is first replaced. */
  private legacyVersion(pk: string, head: Head | undefined) {
    if (head?.agent === undefined || !isLegacyHead(head.item)) return [];
    return [
      {
        Put: {
          TableName: this.tableName,
          Item: { pk, sk: 1, kind: 'agent_version', ...head.agent },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ];
  }

  private definition(
    agentId: string,
    spec: AgentSpec,
    version: number,
    createdAt: string,
    updatedAt: string,
  ): AgentDefinition {
    return {
      ...structuredClone(spec),
      object: 'agent',
      agent_id: agentId,
      version,
      created_at: createdAt,
      updated_at: updatedAt,
    };
  }

  private async head(auth: AuthContext, agentId: string, consistent: boolean): Promise<Head | undefined> {
    const item = await getItem(
      this.db,
      this.tableName,
      { pk: storageKeys.agent(auth.tenant_id, agentId), sk: recordSortKey },
      consistent,
    );
    if (item === undefined) return undefined;
    if (item['deleted'] === true)
      return {
        item,
        agent: undefined,
        latest: typeof item['latest_version'] === 'number' ? item['latest_version'] : 1,
      };
    const agent = agentFromStored(item, agentId);
    return { item, agent, latest: agent.version };
  }

  /**
   * Writes `agent` exactly as given as the agent's current version (seeding and tests): no version
   * check, the directory entry included.
   */
  async put(auth: AuthContext, agent: AgentDefinition): Promise<void> {
    const pk = storageKeys.agent(auth.tenant_id, agent.agent_id);
    const codes = await transactWrite(this.db, [
      {
        Put: {
          TableName: this.tableName,
          Item: { pk, sk: recordSortKey, kind: 'agent', ...agent, latest_version: agent.version },
        },
      },
      {
        Put: { TableName: this.tableName, Item: { pk, sk: agent.version, kind: 'agent_version', ...agent } },
      },
      directoryPut(this.tableName, storageKeys.agentIndex(auth.tenant_id), agent.agent_id, 'agent_id'),
    ]);
    // The one write that rewrites a stored version: this process must not keep serving the old one.
    this.versions.delete(versionKey(auth, agent.agent_id, agent.version));
    if (codes !== undefined)
      throw new ConflictError(`Agent ${agent.agent_id} could not be stored (${codes.join(', ')})`);
  }
}

function versionConflict(agentId: string, expected: number, current: number): ConflictError {
  return new ConflictError(
    `Agent ${agentId} is at version ${current}, not ${expected}; read it again and retry`,
    { details: { current_version: current } },
  );
}

function versionKey(auth: AuthContext, agentId: string, version: number): string {
  return JSON.stringify([auth.tenant_id, agentId, version]);
}
