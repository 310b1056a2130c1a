import { humanOutput } from '../cli-output.ts';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeStackName } from '../../../infra/node-app.ts';
import type { NodeConfig } from '../../config/node-config.ts';
import { localStateDir } from '../../local/project-paths.ts';
import { newOperatorReport } from '../../reports/operator-report.ts';
import type { OperatorReport } from '../../reports/operator-report.ts';
import { PhaseRunner } from '../../reports/phase-runner.ts';
import { describeTarget, operatorClientConfig } from '../../aws/target.ts';
import type { OperatorClientConfig, RemoteTarget } from '../../aws/target.ts';

/** What every command against a deployed node (AWS or an emulator) starts from. */
export type RemoteOptions = {
  target: RemoteTarget;
  config: NodeConfig;
  out?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
};

/** This machine's files about one deployed stage: builds, CDK output, logs, the artifact host. */
export function remotePaths(target: RemoteTarget, env: NodeJS.ProcessEnv = process.env) {
  const where =
    target.kind === 'endpoint'
      ? `endpoint-${new URL(target.endpoint).host.replace(/[^a-z0-9]+/gi, '-')}`
      : `aws-${target.region}`;
  const dir = join(localStateDir(env), 'remote', `${where}-${target.stage}`);
  return {
    dir,
    bundles: join(dir, 'functions'),
    cdkOut: join(dir, 'cdk.out'),
    outputs: join(dir, 'outputs.json'),
    cdkLog: join(dir, 'cdk.log'),
    host: join(dir, 'artifact-host'),
  };
}

/** A command's working set: target, configuration, report, phases, SDK settings. */
export type RemoteContext = {
  target: RemoteTarget;
  config: NodeConfig;
  out: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  runner: PhaseRunner;
  report: OperatorReport;
  stackName: string;
  client: OperatorClientConfig;
  paths: ReturnType<typeof remotePaths>;
};

/** A fresh context for one command against a deployed node; its state directory exists. */
export async function newRemoteContext(action: string, options: RemoteOptions): Promise<RemoteContext> {
  const out = options.out ?? humanOutput();
  const env = options.env ?? process.env;
  const runner = new PhaseRunner(out);
  const report = newOperatorReport(action, options.target.stage, 'not part of this command');
  report.mode = 'aws';
  report.phases = runner.phases;
  report.notes.push(`Target: ${describeTarget(options.target)}`);
  const paths = remotePaths(options.target, env);
  await mkdir(paths.dir, { recursive: true });
  return {
    target: options.target,
    config: options.config,
    out,
    env,
    runner,
    report,
    stackName: nodeStackName(options.target.stage),
    client: operatorClientConfig(options.target, env),
    paths,
  };
}
