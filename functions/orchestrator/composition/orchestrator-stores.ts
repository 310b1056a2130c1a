import { DynamoToolRegistry } from '../adapters/dynamodb/dynamo-tool-registry.ts';
import { DynamoMemoryStore } from '../adapters/memory/dynamo-memory-store.ts';
import type { OrchestratorCore } from './orchestrator-core.ts';

type Stores = { toolRegistry: DynamoToolRegistry; memory: DynamoMemoryStore };

const stores = new WeakMap<OrchestratorCore, Stores>();

/**
 * The tenants' tool registry and agent memory on `core`'s table, one of each per core, shared by
 * the API function's routes and the step worker's tools. Apart from the core because the events
 * function reads neither.
 */
export function orchestratorStoresOf(core: OrchestratorCore): Stores {
  const existing = stores.get(core);
  if (existing !== undefined) return existing;
  const { db, config, now } = core;
  const created: Stores = {
    toolRegistry: new DynamoToolRegistry(db, config.tableName, { now }),
    memory: new DynamoMemoryStore(db, config.tableName, { now }),
  };
  stores.set(core, created);
  return created;
}
