import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { defaultTenantScopes } from '../../functions/shared/auth/auth-context.ts';
import { generousQuotas } from '../support/test-tenants.ts';
import { createTokenIssuer } from '../../functions/shared/auth/token-issuer.ts';
import { ensureNodeSigningKeys, readActiveSigningKey } from '../../cli/aws/node-signing-keys.ts';
import { nodeProcessSettings, startNodeProcess as spawnNodeProcess } from '../../cli/local/host-process.ts';
import { deployNodeStack, ensureBootstrapped, localDeployContext } from '../../cli/local/local-deploy.ts';
import { nodePaths } from '../../cli/local/local-state.ts';
import { sampleAgent, registerTenants, seedTenantCatalog } from '../../cli/local/seed.ts';
import { newOperatorReport } from '../../cli/reports/operator-report.ts';
import { PhaseRunner } from '../../cli/reports/phase-runner.ts';

/** A local node in its own process, as `agentos up --local` runs it, for benchmark scripts. */
export type NodeProcess = {
  /** The Orchestrator's base URL. */
  base: string;
  pid(): number | undefined;
  /** A tenant admin's token for the seeded tenant `bench`. */
  token: string;
  /** Kills the process without warning (SIGKILL) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts the process again on the same stack, ports and in-flight journal. */
  restart(): Promise<void>;
  stop(): Promise<void>;
};

/** Resident memory of a process, in MB (Linux). */
export function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/**
 * Deploys a node stack onto the emulator at `endpoint` (`cdk bootstrap` when needed, then
 * `cdk deploy`), starts the node's process on it, seeds the tenant `bench` with the sample agent
 * (allowed `maxSteps` steps) and returns it once it serves.
 */
export async function startNodeProcess(options: {
  endpoint: string;
  maxSteps: number;
}): Promise<NodeProcess> {
  const region = 'us-east-1';
  const nodeId = `bench-${Date.now().toString(36)}`;
  const paths = nodePaths(nodeId, { AGENTOS_STATE_DIR: await mkdtemp(`${tmpdir()}/agentos-bench-node-`) });
  const deploy = localDeployContext({
    nodeId,
    region,
    emulatorEndpoint: options.endpoint,
    out: process.stderr,
    runner: new PhaseRunner(process.stderr),
    report: newOperatorReport('bench', nodeId, 'not part of a benchmark'),
    paths,
  });
  await mkdir(paths.dir, { recursive: true });
  await ensureBootstrapped(deploy);
  const keys = await ensureNodeSigningKeys(deploy.client, nodeId);
  const outputs = await deployNodeStack(deploy, keys, () => undefined, paths.deployed);
  let orchestratorPort = 0;
  let modelPolicyPort = 0;
  let child: ChildProcess | undefined;

  async function start(): Promise<string> {
    const settings = nodeProcessSettings(deploy, {
      orchestratorPort,
      modelPolicyPort,
      cacheDir: paths.codeCache,
      inFlightFile: paths.inFlight,
    });
    const started = await spawnNodeProcess(
      settings,
      { settings: paths.settings, ready: paths.ready },
      { detached: false },
    );
    child = started.child;
    // A restart keeps the ports, so clients keep their URLs.
    orchestratorPort = Number(new URL(started.ready.orchestrator_url).port);
    modelPolicyPort = Number(new URL(started.ready.model_policy_url).port);
    return started.ready.orchestrator_url;
  }

  async function waitForExit(): Promise<void> {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise((resolve) => running.once('exit', resolve));
  }

  const base = await start();
  const tableName = outputs['TableName'];
  const issuer = outputs['NodeIssuer'];
  if (tableName === undefined || issuer === undefined) throw new Error('the deployed stack has no outputs');
  await registerTenants({
    aws: { region, endpoint: options.endpoint, maxAttempts: 3 },
    tableName,
    tenantIds: ['bench'],
    by: 'bench',
    quotas: generousQuotas,
  });
  await seedTenantCatalog({
    aws: { region, endpoint: options.endpoint, maxAttempts: 3 },
    tableName,
    tenantId: 'bench',
    adminPrincipal: 'admin@bench',
    agent: { ...sampleAgent, max_steps: options.maxSteps },
  });
  const jwk = await readActiveSigningKey(deploy.client, nodeId, outputs['ServiceSigningKid']);
  const token = await createTokenIssuer({ jwk, issuer, audience: deploy.config.audience }).issue({
    tenantId: 'bench',
    subject: 'admin@bench',
    scopes: [...defaultTenantScopes],
    ttlSeconds: 3600,
  });
  return {
    base,
    token,
    pid: () => child?.pid,
    async kill() {
      child?.kill('SIGKILL');
      await waitForExit();
    },
    async restart() {
      await start();
    },
    async stop() {
      child?.kill('SIGTERM');
      await waitForExit();
    },
  };
}

/** A user message that drives the local `scripted` model through `turns`. */
export function scriptedRun(turns: unknown[]): string {
  return JSON.stringify({
    agent_id: 'sample-agent',
    input: { messages: [{ role: 'user', content: `go\nagentos-script: ${JSON.stringify(turns)}` }] },
  });
}
