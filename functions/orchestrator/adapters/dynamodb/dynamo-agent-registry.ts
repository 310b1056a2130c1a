import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import { InternalError } from '../../../shared/errors/agentos-error.ts';
import type { AgentDefinition, AgentRegistryPort } from '../../ports/agent-registry-port.ts';
import { AgentDefinitionSchema } from '../../schemas/agent.ts';

/** Agent definitions under `tenant/{tenant_id}/agents/{agent_id}`. */
export class DynamoAgentRegistry implements AgentRegistryPort {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  async get(auth: AuthContext, agentId: string): Promise<AgentDefinition | undefined> {
    let item: Record<string, unknown>;
    try {
      const result = await this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: storageKeys.agent(auth.tenant_id, agentId), sk: recordSortKey },
        }),
      );
      if (result.Item === undefined) return undefined;
      item = result.Item;
    } catch (error) {
      throw storageUnavailable(error);
    }
    // The item's keys are storage's, not the definition's.
    const definition = Object.fromEntries(
      Object.entries(item).filter(([field]) => !['pk', 'sk', 'kind'].includes(field)),
    );
    const parsed = AgentDefinitionSchema.safeParse(definition);
    if (!parsed.success)
      throw new InternalError(`Stored agent ${agentId} is malformed`, { cause: parsed.error });
    return parsed.data;
  }

  /** The stored definition when it is that version (one version is kept per agent here). */
  async getVersion(
    auth: AuthContext,
    agentId: string,
    version: number,
  ): Promise<AgentDefinition | undefined> {
    const agent = await this.get(auth, agentId);
    return agent?.version === version ? agent : undefined;
  }

  async put(auth: AuthContext, agent: AgentDefinition): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: storageKeys.agent(auth.tenant_id, agent.agent_id),
            sk: recordSortKey,
            kind: 'agent',
            ...agent,
          },
        }),
      );
    } catch (error) {
      throw storageUnavailable(error);
    }
  }
}
