import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
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
  /**
   * The node's stack on the emulator: its name, the issuer its tokens carry and the key id it signs
   * with (the key itself stays in the emulator's Secrets Manager). Absent in the state of a node
   * started before local mode deployed its stack: such a node is built afresh.
   */
  stack: z
    .object({ name: z.string(), region: z.string(), node_issuer: z.string(), signing_kid: z.string() })
    .optional(),
  seeded: z.record(z.string(), z.string()),
  /**
   * The node's alerts process (HLD §9.3): its SMTP sink, which stores every alert e-mail as a
   * `.eml` file in `mail_dir`, and the alarm evaluator. Absent in a node started before it existed.
   */
  alerts: z
    .object({
      pid: z.number().int().nullable(),
      smtp_port: z.number().int(),
      mail_dir: z.string(),
      settings_file: z.string(),
      log_file: z.string(),
    })
    .optional(),
});

export type LocalState = z.infer<typeof LocalStateSchema>;

/** Paths of one local node's state. */
export function nodePaths(nodeId: string, env: NodeJS.ProcessEnv = process.env) {
  const dir = join(localStateDir(env), nodeId);
  return {
    dir,
    state: join(dir, 'state.json'),
    /** The node process's settings (cli/aws/artifact-host-main.ts), with the emulator's keys: 0600. */
    settings: join(dir, 'node-settings.json'),
    ready: join(dir, 'node-ready.json'),
    nodeLog: join(dir, 'node.log'),
    emulatorLog: join(dir, 'emulator.log'),
    lock: join(dir, 'up.lock'),
    /** Where the node's SMTP sink stores the alert e-mails it receives, one `.eml` file each. */
    mail: join(dir, 'mail'),
    /** Receipt handles of the step messages the node process is working on (see in-flight-journal.ts). */
    inFlight: join(dir, 'in-flight.json'),
    /** What `cdk deploy` builds and writes: bundles, cloud assembly, outputs, its log. */
    bundles: join(dir, 'deploy', 'functions'),
    cdkOut: join(dir, 'deploy', 'cdk.out'),
    outputs: join(dir, 'deploy', 'outputs.json'),
    cdkLog: join(dir, 'cdk.log'),
    /** The deployment packages the node process unpacked, one directory per code hash. */
    codeCache: join(dir, 'deploy', 'code'),
    /** The fingerprint of the sources and settings of the last successful deploy. */
    deployed: join(dir, 'deploy', 'deployed.json'),
  };
}

/** The files of one local node. */
export type LocalNodePaths = ReturnType<typeof nodePaths>;

export async function readLocalState(nodeId: string): Promise<LocalState | undefined> {
  const { state } = nodePaths(nodeId);
  if (!existsSync(state)) return undefined;
  return LocalStateSchema.parse(JSON.parse(await readFile(state, 'utf8')));
}

export async function writeLocalState(value: LocalState): Promise<void> {
  const paths = nodePaths(value.node_id);
  await mkdir(paths.dir, { recursive: true });
  // Renamed into place so a process reading the state meanwhile sees the old file or the new one, never half of one.
  await writeFile(`${paths.state}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  await rename(`${paths.state}.tmp`, paths.state);
}

/** Removes everything local mode keeps for a node (keys included). */
export async function removeLocalState(nodeId: string): Promise<void> {
  await rm(nodePaths(nodeId).dir, { recursive: true, force: true });
}
