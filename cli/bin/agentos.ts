#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { describeCliError } from '../commands/cli-errors.ts';
import { modelPolicyLocal } from '../commands/model-policy-local.ts';
import { nukeLocal } from '../commands/nuke-local.ts';
import { statusLocal } from '../commands/status-local.ts';
import { tokenLocal } from '../commands/token-local.ts';
import { upLocal } from '../commands/up-local.ts';
import { defaultMaxTokenLifetimeSeconds } from '../../functions/shared/auth/jwt-verifier.ts';
import { useEmulatorCredentials } from '../local/emulator.ts';
import { resolveTarget } from '../aws/target.ts';
import type { Target } from '../aws/target.ts';
import { defaultNodeConfigFile, loadNodeConfig } from '../config/node-config.ts';
import type { NodeConfig } from '../config/node-config.ts';
import { nukeRemote } from '../commands/remote/nuke-remote.ts';
import { redeployRemote } from '../commands/remote/redeploy-remote.ts';
import { statusRemote } from '../commands/remote/status-remote.ts';
import { keysRemote, tokenRemote } from '../commands/remote/token-keys-remote.ts';
import { upRemote } from '../commands/remote/up-remote.ts';
import { validateRemote } from '../commands/remote/validate-remote.ts';

function nodeId(value: string): string {
  if (!/^[a-z0-9-]{1,32}$/.test(value))
    throw new InvalidArgumentError('node ids are 1-32 characters of a-z, 0-9 and "-"');
  return value;
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1024 || parsed > 65530)
    throw new InvalidArgumentError('a port between 1024 and 65530');
  return parsed;
}

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('a positive integer');
  return parsed;
}

function tokenLifetime(value: string): number {
  const parsed = positiveInt(value);
  if (parsed > defaultMaxTokenLifetimeSeconds)
    throw new InvalidArgumentError(
      `at most ${defaultMaxTokenLifetimeSeconds} (24 hours): nodes refuse longer-lived tokens`,
    );
  return parsed;
}

/** The target flags every command takes (see cli/aws/target.ts). */
type TargetOptions = {
  local?: boolean;
  endpoint?: string;
  profile?: string;
  region?: string;
  stage?: string;
  config?: string;
  nodeId: string;
  portBase: number;
};

/** Adds the target flags: `--local`, `--endpoint URL`, or AWS (`--profile`, `--region`), with `--stage`. */
function withTarget(command: Command): Command {
  return command
    .option('--local', 'the node on this machine, against an AWS emulator')
    .option('--endpoint <url>', 'a deployment on an AWS-compatible emulator (moto, LocalStack-compatible)')
    .option('--profile <name>', 'AWS: a named profile (default: the standard credential chain)')
    .option('--region <region>', 'AWS: the region (default: the node configuration, then AWS_REGION)')
    .option('--stage <stage>', 'the deployed node id (default: the node configuration, then "main")')
    .option('--config <file>', `the node configuration (default: ./${defaultNodeConfigFile} when present)`)
    .option(
      '--node-id <id>',
      'local: node id (two nodes side by side need different ids and port bases)',
      nodeId,
      'local',
    )
    .option(
      '--port-base <port>',
      'local: orchestrator port; model policy uses +1, the emulator +2',
      port,
      8710,
    );
}

/**
 * Resolves a command's one target. A local target and an emulator get the emulator's keys when the
 * environment has none; an AWS profile is exported so every SDK client of this process uses it.
 */
async function targetOf(opts: TargetOptions): Promise<{ target: Target; config: NodeConfig }> {
  const config = await loadNodeConfig(opts.config);
  const target = resolveTarget(opts, config);
  if (target.kind !== 'aws') useEmulatorCredentials();
  else if (target.profile !== undefined) process.env['AWS_PROFILE'] = target.profile;
  return { target, config };
}

/** Commands that exist only for a local node so far say so for other targets. */
function localOnly(command: string, target: Target): asserts target is Extract<Target, { kind: 'local' }> {
  if (target.kind === 'local') return;
  process.stderr.write(`agentos ${command} works on a local node only so far (--local).\n`);
  process.exit(2);
}

const program = new Command()
  .name('agentos')
  .description(
    'Operate AgentOS nodes: on this machine (--local), on AWS (--profile/--region), or on an AWS emulator (--endpoint URL)',
  )
  .showHelpAfterError();

withTarget(
  program
    .command('up')
    .description(
      'deploy or start a node, seed it, validate it with a smoke run; writes reports/up-<timestamp>.{md,json}',
    )
    .option(
      '--bootstrap',
      'AWS and emulators: run `cdk bootstrap` when the account/region is not bootstrapped',
    ),
).action(async (opts: TargetOptions & { bootstrap?: boolean }) => {
  const { target, config } = await targetOf(opts);
  process.exitCode =
    target.kind === 'local'
      ? await upLocal({ nodeId: target.nodeId, portBase: target.portBase })
      : await upRemote({ target, config, bootstrap: opts.bootstrap === true });
});

withTarget(
  program
    .command('redeploy')
    .description('show the change (cdk diff), deploy code and configuration without re-seeding, validate'),
).action(async (opts: TargetOptions) => {
  const { target, config } = await targetOf(opts);
  if (target.kind === 'local') {
    process.stderr.write(
      'stop the local node and run `agentos up --local` again: it redeploys when the checkout changed\n',
    );
    process.exitCode = 2;
    return;
  }
  process.exitCode = await redeployRemote({ target, config });
});

withTarget(
  program.command('validate').description('health checks and the smoke run, on demand; writes a report'),
).action(async (opts: TargetOptions) => {
  const { target, config } = await targetOf(opts);
  if (target.kind === 'local') {
    process.stderr.write('`agentos up --local` validates a local node; `agentos status --local` checks it\n');
    process.exitCode = 2;
    return;
  }
  process.exitCode = await validateRemote({ target, config });
});

withTarget(
  program
    .command('status')
    .description(
      'endpoints, stack, health, queue and DLQ depth, recent 5xx; writes reports/status-<timestamp>.{md,json}',
    ),
).action(async (opts: TargetOptions) => {
  const { target, config } = await targetOf(opts);
  process.exitCode =
    target.kind === 'local'
      ? await statusLocal({ nodeId: target.nodeId })
      : await statusRemote({ target, config });
});

withTarget(
  program
    .command('nuke')
    .description(
      'delete the node (lists what is destroyed and retained first); writes reports/nuke-<timestamp>.{md,json}',
    )
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--delete-data', 'deployed nodes: also delete the retained table, log groups and signing keys'),
).action(async (opts: TargetOptions & { yes?: boolean; deleteData?: boolean }) => {
  const { target, config } = await targetOf(opts);
  process.exitCode =
    target.kind === 'local'
      ? await nukeLocal({ nodeId: target.nodeId, yes: opts.yes === true })
      : await nukeRemote({ target, config, yes: opts.yes === true, deleteData: opts.deleteData === true });
});

withTarget(
  program
    .command('keys')
    .description(
      "deployed nodes: rotate the node's signing key (the previous one stays published) or retire old keys",
    )
    .argument('<action>', 'rotate or retire')
    .option('--force', 'retire even when tokens of the older keys may still be alive'),
).action(async (action: string, opts: TargetOptions & { force?: boolean }) => {
  if (action !== 'rotate' && action !== 'retire')
    throw new InvalidArgumentError('keys takes rotate or retire');
  const { target, config } = await targetOf(opts);
  if (target.kind === 'local') {
    process.stderr.write(
      'a local node keeps its key in its emulator (agentos/<node-id>/service-signing-key); `agentos nuke --local` resets it\n',
    );
    process.exitCode = 2;
    return;
  }
  process.exitCode = await keysRemote({ target, config, change: action, force: opts.force === true });
});

withTarget(
  program
    .command('token')
    .description(
      "print a bearer token signed with the node's key (local nodes; deployed dev stages whose key you may read)",
    )
    .option('--tenant <id>', 'tenant id (default: the seeded tenant)')
    .option('--subject <principal>', 'principal (sub claim)')
    .option('--scope <scope...>', 'scopes (default: the tenant member scopes)')
    .option('--ttl <seconds>', 'lifetime in seconds (at most 86400)', tokenLifetime, 3600),
).action(
  async (opts: TargetOptions & { tenant?: string; subject?: string; scope?: string[]; ttl: number }) => {
    const { target, config } = await targetOf(opts);
    const claims = {
      ...(opts.tenant === undefined ? {} : { tenant: opts.tenant }),
      ...(opts.subject === undefined ? {} : { subject: opts.subject }),
      ...(opts.scope === undefined ? {} : { scopes: opts.scope }),
      ttlSeconds: opts.ttl,
    };
    process.exitCode =
      target.kind === 'local'
        ? await tokenLocal({ nodeId: target.nodeId, ...claims })
        : await tokenRemote({ target, config, ...claims });
  },
);

withTarget(
  program
    .command('model-policy')
    .description("show or replace a tenant's model policy (budgets, entitlements, redaction, deny rules)")
    .argument('<action>', 'get or set')
    .option('--tenant <id>', 'tenant id', 'default')
    .option('--file <path>', 'policy JSON for set (- reads standard input)'),
).action(async (action: string, opts: TargetOptions & { tenant: string; file?: string }) => {
  const { target } = await targetOf(opts);
  localOnly('model-policy', target);
  if (action !== 'get' && action !== 'set') throw new InvalidArgumentError('model-policy takes get or set');
  process.exitCode = await modelPolicyLocal({
    action,
    nodeId: target.nodeId,
    tenant: opts.tenant,
    ...(opts.file === undefined ? {} : { file: opts.file }),
  });
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const { line, exitCode } = describeCliError(error);
  process.stderr.write(`agentos: ${line}\n`);
  process.exitCode = exitCode;
}
