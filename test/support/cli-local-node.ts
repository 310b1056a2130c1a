import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { LocalState } from '../../cli/local/local-state.ts';
import { nodeSecretNames } from '../../infra/stacks/agentos-node-stack.ts';
import { testAwsConfig } from './aws.ts';
import { startTestNode } from './local-node-harness.ts';
import type { TestNode } from './local-node-harness.ts';

const cli = new URL('../../cli/bin/agentos.ts', import.meta.url).pathname;

/** How a CLI process ended and what it wrote. */
export type CliResult = { code: number; stdout: string; stderr: string };

/**
 * Runs the CLI as an operator would, in its own process, with `env` over this process's
 * environment (and no `AGENTOS_TOKEN` unless `env` gives one), optionally with standard input.
 */
export function runCli(env: Record<string, string>, args: string[], stdin?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, AGENTOS_TOKEN: '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(stdin ?? '');
  });
}

/** Keeps `node`'s signing key where `agentos up --local` keeps local node `id`'s: the CLI mints its tokens with it. */
export async function storeSigningKey(id: string, node: TestNode): Promise<void> {
  const sm = new SecretsManagerClient(testAwsConfig());
  await sm.send(
    new CreateSecretCommand({
      Name: nodeSecretNames(id).serviceSigningKey,
      SecretString: JSON.stringify({ keys: [node.auth.signingKey] }),
    }),
  );
  sm.destroy();
}

/** A local node's state file in `stateDir`, as `agentos up --local` writes it, pointing at `orchestratorUrl`. */
export async function writeLocalState(
  stateDir: string,
  id: string,
  node: TestNode,
  orchestratorUrl: string,
  kid: string,
): Promise<void> {
  const config = testAwsConfig();
  const state: LocalState = {
    node_id: id,
    started_at: new Date().toISOString(),
    emulator: { endpoint: config.endpoint!, pid: null, managed: false, log_file: null },
    node: {
      pid: null,
      orchestrator_url: orchestratorUrl,
      model_policy_url: 'http://127.0.0.1:9',
      log_file: '/dev/null',
    },
    resources: {
      table: node.resources.tableName,
      step_queue_url: node.resources.stepQueueUrl,
      state_machine_arn: node.resources.stateMachineArn,
    },
    stack: { name: `AgentOS-${id}`, region: config.region, node_issuer: node.auth.issuer, signing_kid: kid },
    seeded: { tenant: 'default' },
  };
  await mkdir(join(stateDir, id), { recursive: true });
  await writeFile(join(stateDir, id, 'state.json'), JSON.stringify(state));
}

/** A whole node in this process that the CLI reaches as an operator, through a local state file. */
export type OperatorCliNode = {
  node: TestNode;
  reportsDir: string;
  /** Runs `agentos` with the node's state and reports directories. */
  agentos(args: string[], stdin?: string): Promise<CliResult>;
  /** `args` aimed at this local node (`--local --node-id …`). */
  local(...args: string[]): string[];
  stop(): Promise<void>;
};

/**
 * Starts a node as `up --local` would leave it for the CLI: the operator tenant registered, the
 * signing key stored and a local state file naming the node, with its own state and reports
 * directories (removed by `stop`). `prepare` seeds what the test needs before the state is written.
 */
export async function startOperatorCliNode(
  nodeId: string,
  prepare: (node: TestNode) => Promise<void> = async () => {},
): Promise<OperatorCliNode> {
  const node = await startTestNode();
  await prepare(node);
  // The operator's commands act from the platform tenant, which `up` registers on a real node.
  await node.auth.registerTenant('operator');
  const stateDir = await mkdtemp(join(tmpdir(), 'agentos-state-'));
  const reportsDir = await mkdtemp(join(tmpdir(), 'agentos-reports-'));
  await storeSigningKey(nodeId, node);
  await writeLocalState(stateDir, nodeId, node, node.node.orchestratorUrl, node.auth.signingKey.kid);
  return {
    node,
    reportsDir,
    agentos: (args, stdin) =>
      runCli({ AGENTOS_STATE_DIR: stateDir, AGENTOS_REPORTS_DIR: reportsDir }, args, stdin),
    local: (...args) => [...args, '--local', '--node-id', nodeId],
    async stop() {
      await node.stop();
      await rm(stateDir, { recursive: true, force: true });
      await rm(reportsDir, { recursive: true, force: true });
    },
  };
}
