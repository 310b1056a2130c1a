import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { localStateDir } from './project-paths.ts';

/** What `agentos up --local` started, so `status` and `nuke` can find it. */
export const LocalStateSchema = z.object({
  node_id: z.string(),
  started_at: z.string(),
  emulator: z.object({
    endpoint: z.string(),
    pid: z.number().int().nullable(),
    managed: z.boolean(),
    log_file: z.string().nullable(),
  }),
  node: z.object({
    pid: z.number().int().nullable(),
    orchestrator_url: z.string(),
    model_policy_url: z.string(),
    log_file: z.string(),
  }),
  resources: z.object({ table: z.string(), step_queue_url: z.string(), state_machine_arn: z.string() }),
  seeded: z.record(z.string(), z.string()),
});

export type LocalState = z.infer<typeof LocalStateSchema>;

/** Paths of one local node's state. */
export function nodePaths(nodeId: string, env: NodeJS.ProcessEnv = process.env) {
  const dir = join(localStateDir(env), nodeId);
  return {
    dir,
    state: join(dir, 'state.json'),
    settings: join(dir, 'node-settings.json'),
    ready: join(dir, 'node-ready.json'),
    keys: join(dir, 'keys'),
    nodeLog: join(dir, 'node.log'),
    emulatorLog: join(dir, 'emulator.log'),
    lock: join(dir, 'up.lock'),
    /** Receipt handles of the step messages the node process is working on (see in-flight-journal.ts). */
    inFlight: join(dir, 'in-flight.json'),
  };
}

export async function readLocalState(nodeId: string): Promise<LocalState | undefined> {
  const { state } = nodePaths(nodeId);
  if (!existsSync(state)) return undefined;
  return LocalStateSchema.parse(JSON.parse(await readFile(state, 'utf8')));
}

export async function writeLocalState(value: LocalState): Promise<void> {
  const paths = nodePaths(value.node_id);
  await mkdir(paths.dir, { recursive: true });
  await writeFile(paths.state, `${JSON.stringify(value, null, 2)}\n`);
}

/** Removes everything local mode keeps for a node (keys included). */
export async function removeLocalState(nodeId: string): Promise<void> {
  await rm(nodePaths(nodeId).dir, { recursive: true, force: true });
}
