import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { optionalEnv } from '../../../functions/shared/config/env.ts';
import { provisionNode } from '../../../infra/local/provision-emulator.ts';
import type { ProvisionedResources } from '../../../infra/local/provision-emulator.ts';
import { configureEmulator, startMoto, waitForHttp } from '../../local/emulator.ts';
import { writeLocalState } from '../../local/local-state.ts';
import type { LocalState } from '../../local/local-state.ts';
import type { NodeSettingsFile } from '../../local/node-main.ts';
import { ensureNodeKeys } from '../../local/node-keys.ts';
import { isAlive } from '../../local/processes.ts';
import { projectRoot } from '../../local/project-paths.ts';
import type { BootedNode, ResumePlan, UpContext } from './up-context.ts';

type ReadyFile = { orchestrator_url: string; model_policy_url: string };

async function waitForFile(path: string, timeoutMs: number, alive: () => boolean): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path)) return readFile(path, 'utf8');
    if (!alive()) throw new Error('the node process exited during start-up');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the node did not become ready within ${timeoutMs} ms`);
}

/** The emulator endpoint: the resumed node's, an external one, or a moto started now. */
async function emulatorEndpoint(context: UpContext, resume: ResumePlan | undefined): Promise<string> {
  const { defaults, paths, started } = context;
  if (resume !== undefined) return resume.state.emulator.endpoint;
  if (defaults.externalEmulator) {
    await waitForHttp(defaults.emulatorEndpoint, 10_000);
    await configureEmulator(defaults.emulatorEndpoint);
    return defaults.emulatorEndpoint;
  }
  const emulator = await startMoto({
    port: defaults.emulatorPort,
    logFile: paths.emulatorLog,
    detached: true,
  });
  started.emulatorPid = emulator.pid;
  return emulator.endpoint;
}

/** Starts the node's background process and waits for the URLs it serves. */
async function spawnNode(
  context: UpContext,
  endpoint: string,
  resources: ProvisionedResources,
): Promise<{ pid: number | undefined; ready: ReadyFile }> {
  const { defaults, paths, options } = context;
  const settings: NodeSettingsFile = {
    nodeId: options.nodeId,
    host: '127.0.0.1',
    orchestratorPort: defaults.orchestratorPort,
    modelPolicyPort: defaults.modelPolicyPort,
    awsEndpoint: endpoint,
    region: defaults.region,
    keysDir: paths.keys,
    inFlightFile: paths.inFlight,
    issuer: defaults.issuer,
    audience: defaults.audience,
    resources,
    functionEnv: defaults.functionEnv,
  };
  await writeFile(paths.settings, JSON.stringify(settings, null, 2));
  await rm(paths.ready, { force: true });
  const log = openSync(paths.nodeLog, 'a');
  const child = spawn(
    process.execPath,
    [join(projectRoot, 'cli/local/node-main.ts'), paths.settings, paths.ready],
    {
      detached: true,
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: optionalEnv('AWS_ACCESS_KEY_ID', 'test'),
        AWS_SECRET_ACCESS_KEY: optionalEnv('AWS_SECRET_ACCESS_KEY', 'test'),
      },
    },
  );
  child.unref();
  context.started.nodePid = child.pid;
  const ready = JSON.parse(await waitForFile(paths.ready, 60_000, () => isAlive(child.pid))) as ReadyFile;
  return { pid: child.pid, ready };
}

/**
 * Boot: the emulator (kept when resuming), the node's resources (created only where missing), the
 * node process, and the state file `status` and `nuke` read.
 */
export async function boot(
  context: UpContext,
  resume: ResumePlan | undefined,
  note: (detail: string) => void,
): Promise<BootedNode> {
  const { defaults, paths, options, report, started } = context;
  const endpoint = await emulatorEndpoint(context, resume);
  note(`emulator at ${endpoint}`);
  const aws = { region: defaults.region, endpoint, maxAttempts: 3 };
  const resources = await provisionNode(options.nodeId, aws);
  note(`provisioned table ${resources.tableName}, step queue, state machine`);
  const keys = await ensureNodeKeys(paths.keys);
  const { pid, ready } = await spawnNode(context, endpoint, resources);
  note(`node process ${pid} serving the orchestrator at ${ready.orchestrator_url}`);
  const previous = resume?.state.emulator;
  const state: LocalState = {
    node_id: options.nodeId,
    started_at: report.started_at,
    emulator: previous ?? {
      endpoint,
      pid: started.emulatorPid ?? null,
      managed: !defaults.externalEmulator,
      log_file: defaults.externalEmulator ? null : paths.emulatorLog,
    },
    node: {
      pid: pid ?? null,
      orchestrator_url: ready.orchestrator_url,
      model_policy_url: ready.model_policy_url,
      log_file: paths.nodeLog,
    },
    resources: {
      table: resources.tableName,
      step_queue_url: resources.stepQueueUrl,
      state_machine_arn: resources.stateMachineArn,
    },
    seeded: resume?.state.seeded ?? {},
  };
  await writeLocalState(state);
  report.endpoints = {
    orchestrator: ready.orchestrator_url,
    model_policy: ready.model_policy_url,
    aws_emulator: endpoint,
    table: resources.tableName,
    step_queue: resources.stepQueueUrl,
    state_machine: resources.stateMachineArn,
  };
  return { state, aws, keys, resources };
}
