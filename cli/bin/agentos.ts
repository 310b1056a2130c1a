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

/** Commands that only exist for AWS deployments so far point at what works today. */
function requireLocal(command: string, local: boolean | undefined): void {
  if (local === true) {
    useEmulatorCredentials();
    return;
  }
  process.stderr.write(
    `agentos ${command} against AWS (cdk deploy) is not available yet; this build supports --local only.\n` +
      `Try: agentos ${command} --local\n`,
  );
  process.exit(2);
}

const program = new Command()
  .name('agentos')
  .description('Operate AgentOS nodes: a local node on this machine (--local), AWS deployments later')
  .showHelpAfterError();

program
  .command('up')
  .description(
    'start a node, seed it, validate it with a smoke run and write reports/up-<timestamp>.{md,json}',
  )
  .option('--local', 'run the node on this machine against an AWS emulator')
  .option(
    '--node-id <id>',
    'node id (two nodes side by side need different ids and port bases)',
    nodeId,
    'local',
  )
  .option('--port-base <port>', 'orchestrator port; model policy uses +1, the emulator +2', port, 8710)
  .action(async (opts: { local?: boolean; nodeId: string; portBase: number }) => {
    requireLocal('up', opts.local);
    process.exitCode = await upLocal({ nodeId: opts.nodeId, portBase: opts.portBase });
  });

program
  .command('status')
  .description('show what runs and whether it answers; writes reports/status-<timestamp>.{md,json}')
  .option('--local', 'the local node')
  .option('--node-id <id>', 'node id', nodeId, 'local')
  .action(async (opts: { local?: boolean; nodeId: string }) => {
    requireLocal('status', opts.local);
    process.exitCode = await statusLocal({ nodeId: opts.nodeId });
  });

program
  .command('nuke')
  .description(
    'stop the node and delete its resources and local state; writes reports/nuke-<timestamp>.{md,json}',
  )
  .option('--local', 'the local node')
  .option('--node-id <id>', 'node id', nodeId, 'local')
  .option('-y, --yes', 'do not ask for confirmation')
  .action(async (opts: { local?: boolean; nodeId: string; yes?: boolean }) => {
    requireLocal('nuke', opts.local);
    process.exitCode = await nukeLocal({ nodeId: opts.nodeId, yes: opts.yes === true });
  });

program
  .command('token')
  .description("print a bearer token signed with the local node's key")
  .option('--local', 'sign with the local node key')
  .option('--node-id <id>', 'node id', nodeId, 'local')
  .option('--tenant <id>', 'tenant id (default: the seeded tenant)')
  .option('--subject <principal>', 'principal (sub claim)')
  .option('--scope <scope...>', 'scopes (default: the tenant member scopes)')
  .option('--ttl <seconds>', 'lifetime in seconds (at most 86400)', tokenLifetime, 3600)
  .action(
    async (opts: {
      local?: boolean;
      nodeId: string;
      tenant?: string;
      subject?: string;
      scope?: string[];
      ttl: number;
    }) => {
      requireLocal('token', opts.local);
      process.exitCode = await tokenLocal({
        nodeId: opts.nodeId,
        ...(opts.tenant === undefined ? {} : { tenant: opts.tenant }),
        ...(opts.subject === undefined ? {} : { subject: opts.subject }),
        ...(opts.scope === undefined ? {} : { scopes: opts.scope }),
        ttlSeconds: opts.ttl,
      });
    },
  );

program
  .command('model-policy')
  .description("show or replace a tenant's model policy (budgets, entitlements, redaction, deny rules)")
  .argument('<action>', 'get or set')
  .option('--local', 'the local node')
  .option('--node-id <id>', 'node id', nodeId, 'local')
  .option('--tenant <id>', 'tenant id', 'default')
  .option('--file <path>', 'policy JSON for set (- reads standard input)')
  .action(
    async (action: string, opts: { local?: boolean; nodeId: string; tenant: string; file?: string }) => {
      requireLocal('model-policy', opts.local);
      if (action !== 'get' && action !== 'set')
        throw new InvalidArgumentError('model-policy takes get or set');
      process.exitCode = await modelPolicyLocal({
        action,
        nodeId: opts.nodeId,
        tenant: opts.tenant,
        ...(opts.file === undefined ? {} : { file: opts.file }),
      });
    },
  );

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const { line, exitCode } = describeCliError(error);
  process.stderr.write(`agentos: ${line}\n`);
  process.exitCode = exitCode;
}
