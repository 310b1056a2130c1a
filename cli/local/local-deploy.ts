import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  CloudFormationClient,
  DeleteStackCommand,
  waitUntilStackDeleteComplete,
} from '@aws-sdk/client-cloudformation';
import {
  DeleteSecretCommand,
  ResourceNotFoundException as SecretNotFound,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { nodeStackName } from '../../infra/node-app.ts';
import { nodeSecretNames } from '../../infra/stacks/agentos-node-stack.ts';
import { contextArgs, runCdk, tail } from '../aws/cdk-cli.ts';
import type { RemoteNodeKeys } from '../aws/node-signing-keys.ts';
import { bootstrapQualifier, checkBootstrap } from '../aws/preflight-bootstrap.ts';
import { describeStack } from '../aws/status-stack.ts';
import { cdkEnvironment } from '../aws/target.ts';
import type { OperatorClientConfig } from '../aws/target.ts';
import { cdkDeploy, stackContext } from '../commands/remote/deploy.ts';
import type { RemoteContext } from '../commands/remote/remote-context.ts';
import type { NodeConfig } from '../config/node-config.ts';
import type { OperatorReport } from '../reports/operator-report.ts';
import type { PhaseRunner } from '../reports/phase-runner.ts';
import { nodePaths } from './local-state.ts';
import type { LocalNodePaths } from './local-state.ts';
import { localClientConfig, localNodeConfig, localTarget } from './local-target.ts';
import { projectRoot } from './project-paths.ts';

/**
 * The deploy path's working set for a local node: the node's stack on its emulator, with the CDK's
 * builds, outputs and log kept in the node's own state directory (so `nuke --local` removes them).
 */
export function localDeployContext(options: {
  nodeId: string;
  region: string;
  emulatorEndpoint: string;
  out: NodeJS.WritableStream;
  runner: PhaseRunner;
  report: OperatorReport;
  /** The node's files; its state directory's by default. */
  paths?: LocalNodePaths;
  /** The `tools` section of the node configuration; the defaults without it. */
  tools?: NodeConfig['tools'];
  /** The `capacity` section of the node configuration; the defaults without it. */
  capacity?: NodeConfig['capacity'];
}): RemoteContext {
  const paths = options.paths ?? nodePaths(options.nodeId);
  return {
    target: localTarget(options.nodeId, options.region, options.emulatorEndpoint),
    config: localNodeConfig(options.tools, options.capacity),
    out: options.out,
    env: process.env,
    runner: options.runner,
    report: options.report,
    stackName: nodeStackName(options.nodeId),
    client: localClientConfig(options.nodeId, options.region, options.emulatorEndpoint),
    paths: {
      dir: paths.dir,
      bundles: paths.bundles,
      cdkOut: paths.cdkOut,
      outputs: paths.outputs,
      cdkLog: paths.cdkLog,
      host: paths.dir,
    },
  };
}

/**
 * `cdk bootstrap` of the emulator's account and region, unless the bootstrap stack is already there
 * (a managed emulator is bootstrapped once, when it starts empty). Run from the node's state
 * directory, which has no cdk.json, so the CLI does not synthesize the app for it.
 */
export async function ensureBootstrapped(context: RemoteContext): Promise<string> {
  const sts = new STSClient(context.client);
  const account = await sts
    .send(new GetCallerIdentityCommand({}))
    .then((answer) => answer.Account)
    .finally(() => sts.destroy());
  if (account === undefined) throw new Error('the emulator named no account (STS GetCallerIdentity)');
  const qualifier = await bootstrapQualifier(join(projectRoot, 'cdk.json'));
  const verdict = await checkBootstrap(context.target, account, qualifier, context.env);
  if (verdict.outcome === 'ok') return `already bootstrapped: ${verdict.detail}`;
  const started = Date.now();
  const result = await runCdk(
    [
      'bootstrap',
      `aws://${account}/${context.target.region}`,
      ...(qualifier === 'hnb659fds' ? [] : ['--qualifier', qualifier]),
      '--no-notices',
      '--no-version-reporting',
    ],
    {
      cwd: context.paths.dir,
      env: cdkEnvironment(context.target, context.env),
      logFile: context.paths.cdkLog,
    },
  );
  if (result.code !== 0)
    throw new Error(
      `cdk bootstrap failed (exit ${String(result.code)}; full output in ${context.paths.cdkLog}):\n${tail(result.output)}`,
    );
  return `cdk bootstrap: ${Date.now() - started} ms`;
}

/** Every file under `dir`, as paths relative to the project root. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(join(projectRoot, dir), { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(projectRoot, join(entry.parentPath, entry.name)));
}

/**
 * What a deploy of this node is made from: the sources of the functions and of the stack, the
 * dependencies' lock, the CDK settings, and the stack's context (keys, configuration). Equal
 * fingerprints deploy the same stack, so a resumed node whose stack has one is not deployed again.
 */
async function deployFingerprint(context: RemoteContext, keys: RemoteNodeKeys): Promise<string> {
  const files = [
    ...(await filesUnder('functions')),
    ...(await filesUnder('infra')),
    'cdk.json',
    'package.json',
    'package-lock.json',
    'tsconfig.json',
  ].sort();
  const hash = createHash('sha256');
  hash.update(JSON.stringify(contextArgs(stackContext(context, keys))));
  for (const file of files) {
    hash.update(`\0${file}\0`);
    hash.update(existsSync(join(projectRoot, file)) ? await readFile(join(projectRoot, file)) : '');
  }
  return hash.digest('hex');
}

async function lastDeployed(path: string): Promise<string | undefined> {
  if (!existsSync(path)) return undefined;
  const parsed = JSON.parse(await readFile(path, 'utf8')) as { fingerprint?: unknown };
  return typeof parsed.fingerprint === 'string' ? parsed.fingerprint : undefined;
}

/**
 * The node's stack on the emulator: deployed with `cdk deploy` unless the stack is there, complete,
 * and was deployed from exactly these sources and settings (a resumed node whose checkout did not
 * change). Returns the stack's outputs.
 */
export async function deployNodeStack(
  context: RemoteContext,
  keys: RemoteNodeKeys,
  note: (detail: string) => void,
  recordFile = nodePaths(context.target.stage).deployed,
): Promise<Record<string, string>> {
  const fingerprint = await deployFingerprint(context, keys);
  const cloudFormation = new CloudFormationClient(context.client);
  const stack = await describeStack(cloudFormation, context.stackName).finally(() =>
    cloudFormation.destroy(),
  );
  const healthy = stack.deployed && /_COMPLETE$/.test(stack.status) && !/ROLLBACK|DELETE/.test(stack.status);
  if (healthy && (await lastDeployed(recordFile)) === fingerprint) {
    note(`${context.stackName} is current (${stack.status}): not deployed again`);
    return stack.outputs;
  }
  await mkdir(join(recordFile, '..'), { recursive: true });
  const started = Date.now();
  const { outputs } = await cdkDeploy(context, keys);
  await writeFile(recordFile, `${JSON.stringify({ fingerprint, deployed_at: new Date().toISOString() })}\n`);
  note(`cdk deploy ${context.stackName}: ${Date.now() - started} ms`);
  return outputs;
}

/**
 * Removes a local node from an emulator that outlives it (an external one): deletes its stack, whose
 * table and logs go with it (a local node is deployed with `destroy_data_with_stack`), and its
 * signing keys, which live outside the stack. The alert sender belongs to the emulator's account
 * and stays.
 */
export async function removeNodeStack(
  client: OperatorClientConfig,
  stackName: string,
  nodeId: string,
): Promise<void> {
  const cloudFormation = new CloudFormationClient(client);
  const sm = new SecretsManagerClient(client);
  try {
    if ((await describeStack(cloudFormation, stackName)).deployed) {
      await cloudFormation.send(new DeleteStackCommand({ StackName: stackName }));
      await waitUntilStackDeleteComplete(
        { client: cloudFormation, maxWaitTime: 600, minDelay: 1, maxDelay: 5 },
        { StackName: stackName },
      );
    }
    await sm
      .send(
        new DeleteSecretCommand({
          SecretId: nodeSecretNames(nodeId).serviceSigningKey,
          // Without a recovery window, so the next `up` can create the secret again at once.
          ForceDeleteWithoutRecovery: true,
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof SecretNotFound)) throw error;
      });
  } finally {
    cloudFormation.destroy();
    sm.destroy();
  }
}
