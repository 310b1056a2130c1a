import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultTenantScopes } from '../../functions/shared/auth/auth-context.ts';
import { createTokenIssuer } from '../../functions/shared/auth/token-issuer.ts';
import type { NodeSettingsFile } from '../../cli/local/node-main.ts';
import { ensureNodeKeys } from '../../cli/local/node-keys.ts';
import { sampleAgent, seedTenantCatalog } from '../../cli/local/seed.ts';
import { provisionNode } from '../../infra/local/provision-emulator.ts';

/** A local node in its own process, as `agentos up --local` runs it, for benchmark scripts. */
export type NodeProcess = {
  /** The Orchestrator's base URL. */
  base: string;
  pid(): number | undefined;
  /** A tenant admin's token for the seeded tenant `bench`. */
  token: string;
  /** Kills the process without warning (SIGKILL) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts the process again on the same resources, ports, keys and in-flight journal. */
  restart(): Promise<void>;
  stop(): Promise<void>;
};

/** Resident memory of a process, in MB (Linux). */
export function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/**
 * Provisions a node on the emulator at `endpoint`, starts its process, seeds the tenant `bench`
 * with the sample agent (allowed `maxSteps` steps) and returns it once it serves.
 */
export async function startNodeProcess(options: {
  endpoint: string;
  maxSteps: number;
  functionEnv?: Record<string, string>;
}): Promise<NodeProcess> {
  const aws = { region: 'us-east-1', endpoint: options.endpoint, maxAttempts: 3 };
  const nodeId = `bench-${Date.now().toString(36)}`;
  const resources = await provisionNode(nodeId, aws);
  const dir = await mkdtemp(join(tmpdir(), 'agentos-bench-node-'));
  const keys = await ensureNodeKeys(join(dir, 'keys'));
  const issuer = `https://agentos.bench/${nodeId}`;
  const settingsPath = join(dir, 'settings.json');
  const readyPath = join(dir, 'ready.json');
  let orchestratorPort = 0;
  let modelPolicyPort = 0;
  let child: ChildProcess | undefined;

  async function start(): Promise<string> {
    const settings: NodeSettingsFile = {
      nodeId,
      host: '127.0.0.1',
      orchestratorPort,
      modelPolicyPort,
      awsEndpoint: options.endpoint,
      region: aws.region,
      keysDir: join(dir, 'keys'),
      inFlightFile: join(dir, 'in-flight.json'),
      issuer,
      audience: 'agentos',
      resources,
      functionEnv: { POWERTOOLS_LOG_LEVEL: 'ERROR', ...options.functionEnv },
    };
    await writeFile(settingsPath, JSON.stringify(settings));
    await rm(readyPath, { force: true });
    const cli = new URL('../../cli/local/node-main.ts', import.meta.url).pathname;
    child = spawn(process.execPath, [cli, settingsPath, readyPath], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    for (let waited = 0; !existsSync(readyPath); waited += 100) {
      if (waited > 60_000 || child.exitCode !== null) throw new Error('the node process did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const ready = JSON.parse(await readFile(readyPath, 'utf8')) as {
      orchestrator_url: string;
      model_policy_url: string;
    };
    // A restart keeps the ports, so clients keep their URLs.
    orchestratorPort = Number(new URL(ready.orchestrator_url).port);
    modelPolicyPort = Number(new URL(ready.model_policy_url).port);
    return ready.orchestrator_url;
  }

  async function waitForExit(): Promise<void> {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise((resolve) => running.once('exit', resolve));
  }

  const base = await start();
  await seedTenantCatalog({
    aws,
    tableName: resources.tableName,
    tenantId: 'bench',
    adminPrincipal: 'admin@bench',
    agent: { ...sampleAgent, max_steps: options.maxSteps },
  });
  const token = await createTokenIssuer({ jwk: keys.signingKey, issuer, audience: 'agentos' }).issue({
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
