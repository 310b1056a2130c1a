import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { LocalState } from '../../cli/local/local-state.ts';
import { nodeSecretNames } from '../../infra/stacks/agentos-node-stack.ts';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { sampleAgent, seedTenantCatalog } from '../../cli/local/seed.ts';
import type { SeedAgent } from '../../cli/local/seed.ts';
import { deprovisionNode } from '../../infra/local/provision-emulator.ts';
import type { ProvisionedResources } from '../../infra/local/provision-emulator.ts';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';
import { generateSigningKey } from '../../functions/shared/auth/signing-keys.ts';
import { createTokenIssuer } from '../../functions/shared/auth/token-issuer.ts';
import type { SigningJwk } from '../../functions/shared/auth/token-issuer.ts';
import { provisionTestNode, testAwsConfig } from './aws.ts';
import type { NodeProcessReady, NodeProcessSettings } from './node-process-main.ts';
import { tenantRegistrar, testTenantDirectory } from './test-tenants.ts';

const main = new URL('./node-process-main.ts', import.meta.url).pathname;

/**
 * Two nodes side by side, each in its own process (node-process-main.ts) with its own table, queues
 * and signing keys on the one test emulator, so federation is tested between processes over real
 * HTTP as between two deployments (HLD §7). The test process holds what an operator of each node
 * would: the node's keys (to mint its users' tokens and its peer tokens) and its resources.
 */

/** One of the two nodes, as the test drives it. */
export type NodeSide = {
  nodeId: string;
  url: string;
  /** The node's Model Policy API. */
  modelPolicyUrl: string;
  resources: ProvisionedResources;
  /** The keys the node publishes; the first signs. */
  keys(): SigningJwk[];
  /** A token of this node for `tenantId` (registered first), with the default tenant scopes or `scopes`. */
  token(tenantId: string, options?: { subject?: string; scopes?: string[] }): Promise<string>;
  /** A client of this node for `tenantId` that may read all of the tenant's runs. */
  client(tenantId: string): Promise<AgentOsClient>;
  /** A client holding an operator token of the platform tenant. */
  operator(): Promise<AgentOsClient>;
  /** Registers `tenantId` and seeds the sample agent (or `agent`) for it. */
  seed(tenantId: string, agent?: Partial<SeedAgent>): Promise<void>;
  /**
   * Stops the process and starts it again on the same port and storage with `keys` (first signs),
   * as a redeploy with rotated keys would leave the node.
   */
  restart(keys: SigningJwk[]): Promise<void>;
  /**
   * Lets `agentos … --local --node-id <nodeId>` reach this node with `AGENTOS_STATE_DIR=stateDir`,
   * as `up --local` would: its state file, and its signing key where the CLI reads it.
   */
  writeCliState(stateDir: string): Promise<void>;
  /** How many node processes of this side are alive (0 after `stop`). */
  alive(): number;
};

/** The pair; `stop` ends both processes and removes their storage. */
export type TwoNodes = { a: NodeSide; b: NodeSide; stop(): Promise<void> };

const readyTimeoutMs = 90_000;
const stopTimeoutMs = 10_000;

type Started = { child: ChildProcess; ready: NodeProcessReady };

function startProcess(settings: NodeProcessSettings): Promise<Started> {
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, AGENTOS_TEST_NODE: JSON.stringify(settings) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    // Kept bounded: only the tail says why a node did not start.
    stderr = (stderr + chunk).slice(-8_000);
  });
  return new Promise<Started>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${settings.nodeId} was not ready in ${readyTimeoutMs} ms:\n${stderr}`));
    }, readyTimeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve({ child, ready: JSON.parse(line) as NodeProcessReady });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${settings.nodeId} exited with ${code} before it was ready:\n${stderr}`));
    });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
  await exited;
  clearTimeout(timer);
}

async function startSide(
  prefix: string,
  functionEnv: Record<string, string>,
): Promise<{
  side: NodeSide;
  stop(): Promise<void>;
}> {
  const aws = testAwsConfig();
  const { nodeId, resources } = await provisionTestNode(prefix);
  let keys = [await generateSigningKey(nodeId)];
  const settings = (port: number): NodeProcessSettings => ({
    nodeId,
    // A local node is its own issuer, as `up --local` sets it up.
    issuer: `https://agentos.test/${nodeId}`,
    audience: 'agentos',
    keys,
    resources,
    awsEndpoint: aws.endpoint ?? '',
    region: aws.region,
    orchestratorPort: port,
    functionEnv: {
      POWERTOOLS_LOG_LEVEL: process.env['AGENTOS_TEST_LOG_LEVEL'] ?? 'SILENT',
      AGENTOS_SSE_POLL_MAX_MS: '200',
      AGENTOS_TENANT_CACHE_SECONDS: '0',
      AGENTOS_NODE_ID: nodeId,
      ...functionEnv,
    },
  });
  const children = new Set<ChildProcess>();
  const track = (started: Started): Started => {
    children.add(started.child);
    started.child.once('exit', () => children.delete(started.child));
    return started;
  };
  let current = track(await startProcess(settings(0)));
  const url = current.ready.orchestrator_url;
  const register = tenantRegistrar(testTenantDirectory(resources.tableName));
  const token: NodeSide['token'] = async (tenantId, options = {}) => {
    await register(tenantId);
    // The key that signs now: after a restart with rotated keys, the new one.
    return createTokenIssuer({
      jwk: keys[0]!,
      issuer: `https://agentos.test/${nodeId}`,
      audience: 'agentos',
    }).issue({
      tenantId,
      subject: options.subject ?? `user-${tenantId}`,
      scopes: options.scopes ?? [...defaultTenantScopes],
      ttlSeconds: 600,
    });
  };
  const side: NodeSide = {
    nodeId,
    url,
    modelPolicyUrl: current.ready.model_policy_url,
    resources,
    keys: () => keys,
    token,
    client: async (tenantId) =>
      new AgentOsClient(url, await token(tenantId, { scopes: [...defaultTenantScopes, scopes.runsReadAll] })),
    operator: async () =>
      new AgentOsClient(url, await token('operator', { subject: 'ops', scopes: [scopes.operator] })),
    async seed(tenantId, agent = {}) {
      await register(tenantId);
      await seedTenantCatalog({
        aws,
        tableName: resources.tableName,
        tenantId,
        adminPrincipal: `admin-${tenantId}`,
        agent: { ...sampleAgent, ...agent },
      });
    },
    async restart(next) {
      await stopProcess(current.child);
      keys = next;
      current = track(await startProcess(settings(Number(new URL(url).port))));
    },
    async writeCliState(stateDir) {
      const sm = new SecretsManagerClient(aws);
      try {
        await sm.send(
          new CreateSecretCommand({
            Name: nodeSecretNames(nodeId).serviceSigningKey,
            SecretString: JSON.stringify({ keys }),
          }),
        );
      } finally {
        sm.destroy();
      }
      const state: LocalState = {
        node_id: nodeId,
        started_at: new Date().toISOString(),
        emulator: { endpoint: aws.endpoint ?? '', pid: null, managed: false, log_file: null },
        node: {
          pid: null,
          orchestrator_url: url,
          model_policy_url: 'http://127.0.0.1:9',
          log_file: '/dev/null',
        },
        resources: {
          table: resources.tableName,
          step_queue_url: resources.stepQueueUrl,
          state_machine_arn: resources.stateMachineArn,
        },
        stack: {
          name: `AgentOS-${nodeId}`,
          region: aws.region,
          node_issuer: `https://agentos.test/${nodeId}`,
          signing_kid: keys[0]!.kid,
        },
        seeded: { tenant: 'default' },
      };
      await mkdir(join(stateDir, nodeId), { recursive: true });
      await writeFile(join(stateDir, nodeId, 'state.json'), JSON.stringify(state));
    },
    alive: () => children.size,
  };
  return {
    side,
    async stop() {
      await Promise.all([...children].map(stopProcess));
      await deprovisionNode(nodeId, aws);
    },
  };
}

/**
 * Starts nodes A and B, each in its own process (`functionEnv` over the test defaults for both).
 * Both processes are stopped, and both nodes' storage removed, by `stop`, even when one fails to start.
 */
export async function startTwoNodes(functionEnv: Record<string, string> = {}): Promise<TwoNodes> {
  const [a, b] = await Promise.allSettled([startSide('a', functionEnv), startSide('b', functionEnv)]);
  if (a.status === 'rejected' || b.status === 'rejected') {
    await Promise.all([a, b].map((side) => (side.status === 'fulfilled' ? side.value.stop() : undefined)));
    throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
  }
  return {
    a: a.value.side,
    b: b.value.side,
    async stop() {
      await Promise.all([a.value.stop(), b.value.stop()]);
    },
  };
}
