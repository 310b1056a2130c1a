#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { useJsonOutput } from '../commands/cli-output.ts';
import { completionScript, completionShells } from '../commands/completion.ts';
import type { CompletionShell } from '../commands/completion.ts';
import { describeCliError, exitCodes } from '../commands/cli-errors.ts';
import { modelPolicyLocal } from '../commands/model-policy-local.ts';
import { nukeLocal } from '../commands/nuke-local.ts';
import { statusLocal } from '../commands/status-local.ts';
import { tokenLocal } from '../commands/token-local.ts';
import { upLocal } from '../commands/up-local.ts';
import { validateLocalTestAlert } from '../commands/validate-local.ts';
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
import { orchestratorClient } from '../commands/api/api-access.ts';
import type { ApiCredentials } from '../commands/api/api-access.ts';
import { operatorRunCommands, principalCommands, tenantCommands } from '../commands/api/admin-commands.ts';
import { capacityCommand } from '../commands/api/capacity-command.ts';
import { discoverPeer, peerCommands, tenantMapping } from '../commands/api/peer-commands.ts';
import { agentCommands, readSpec, runCommands, toolCommands } from '../commands/api/resource-commands.ts';
import type { PageOptions } from '../commands/api/resource-commands.ts';
import { ApiRefusal } from '../commands/api/resource-output.ts';
import type { CommandOutput } from '../commands/api/resource-output.ts';
import type { AgentOsClient } from '../client/agentos-client.ts';
import { runStatuses } from '../../functions/orchestrator/schemas/run.ts';

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
    )
    .option('--json', 'print the result as JSON on standard output; progress goes to standard error');
}

/** Commands that call the API print their own JSON under `--json` (the API's documents). */
const apiCommands = new WeakSet<Command>();

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
  .version(
    (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
      .version,
    '-V, --version',
    'print the agentos version',
  )
  // The program's own options (`--version`) come before a command only, so a command's option of
  // the same name (`agents get --version 1`) stays the command's.
  .enablePositionalOptions()
  .showHelpAfterError()
  .hook('preAction', (_program, action) => {
    if (action.opts()['json'] === true && !apiCommands.has(action)) useJsonOutput();
  })
  // A wrong flag or argument is a usage error (exit 2), as for every command; help and --version exit 0.
  .exitOverride((error) => {
    process.exit(error.exitCode === 1 ? exitCodes.usage : error.exitCode);
  });

withTarget(
  program
    .command('up')
    .description(
      'deploy or start a node, seed it, validate it with a smoke run; writes reports/up-<timestamp>.{md,json}',
    )
    .option(
      '--bootstrap',
      'AWS and emulators: run `cdk bootstrap` when the account/region is not bootstrapped',
    )
    .option(
      '--no-test-alert',
      "local: do not send the test alert through the node's SMTP sink after validate",
    ),
).action(async (opts: TargetOptions & { bootstrap?: boolean; testAlert: boolean }) => {
  const { target, config } = await targetOf(opts);
  process.exitCode =
    target.kind === 'local'
      ? await upLocal({
          nodeId: target.nodeId,
          portBase: target.portBase,
          tools: config.tools,
          capacity: config.capacity,
          alerts: config.alerts,
          observability: config.observability,
          testAlert: opts.testAlert,
        })
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
  program
    .command('validate')
    .description('health checks and the smoke run, on demand; writes a report')
    .option(
      '--test-alert',
      "send a test alert e-mail and confirm it was sent (local: through the node's SMTP sink; AWS: an alarm set to ALARM, through its topic and the notifier)",
    ),
).action(async (opts: TargetOptions & { testAlert?: boolean }) => {
  const { target, config } = await targetOf(opts);
  if (target.kind === 'local') {
    if (opts.testAlert === true) {
      process.exitCode = await validateLocalTestAlert({ nodeId: target.nodeId });
      return;
    }
    process.stderr.write(
      '`agentos up --local` validates a local node; `agentos status --local` checks it; `agentos validate --local --test-alert` tests alert e-mail\n',
    );
    process.exitCode = 2;
    return;
  }
  process.exitCode = await validateRemote({ target, config, testAlert: opts.testAlert === true });
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

/** The options of the commands that call the Orchestrator API. */
type ApiOptions = TargetOptions & { tenant?: string; token?: string; json?: boolean };

/** `--tenant` of a tenant's own API command: whose token is minted. */
const mintTenantHelp = 'mint the token for this tenant (default: the seeded tenant)';

/** `--tenant` of an operator's command: the tenant acted on, with an operator token. */
const operatorTenantHelp =
  'as an operator: the tenant whose runs this acts on (the token minted is an operator token, not one of that tenant)';

/**
 * Adds the target flags and how an API command authenticates and prints; `tenantHelp` says what
 * `--tenant` means for the command.
 */
function withApi(command: Command, tenantHelp: string = mintTenantHelp): Command {
  apiCommands.add(command);
  return withTarget(command)
    .option('--tenant <id>', tenantHelp)
    .option(
      '--token <jwt>',
      'use this bearer token (default: $AGENTOS_TOKEN, else one minted with the node key)',
    );
}

/** Adds `--limit`, `--cursor` and `--all` to a list command. */
function withPaging(command: Command): Command {
  return command
    .option('--limit <n>', 'page size, 1-100 (default 20)', pageLimit)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--all', 'follow the cursors to the last page');
}

function pageLimit(value: string): number {
  const parsed = positiveInt(value);
  if (parsed > 100) throw new InvalidArgumentError('at most 100');
  return parsed;
}

function runStatus(value: string): string {
  if (!(runStatuses as readonly string[]).includes(value))
    throw new InvalidArgumentError(`one of ${runStatuses.join(', ')}`);
  return value;
}

function nonNegativeInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('a non-negative integer');
  return parsed;
}

function pageOf(opts: PageOptions): PageOptions {
  return {
    ...(opts.limit === undefined ? {} : { limit: opts.limit }),
    ...(opts.cursor === undefined ? {} : { cursor: opts.cursor }),
    ...(opts.all === true ? { all: true } : {}),
  };
}

/**
 * Runs an API command against its target: a refusal of the API prints `code: message` on standard
 * error and exits 1; anything else goes to the common error line.
 */
async function apiAction(
  opts: ApiOptions,
  command: (client: AgentOsClient, output: CommandOutput, target: Target) => Promise<number>,
  role: ApiCredentials['role'] = 'member',
): Promise<void> {
  const { target, config } = await targetOf(opts);
  const client = await orchestratorClient(target, config, {
    ...(opts.token === undefined ? {} : { token: opts.token }),
    ...(opts.tenant === undefined || role === 'operator' ? {} : { tenant: opts.tenant }),
    role,
  });
  try {
    process.exitCode = await command(
      client,
      { out: process.stdout, err: process.stderr, json: opts.json === true },
      target,
    );
  } catch (error) {
    if (!(error instanceof ApiRefusal)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  }
}

const agents = program.command('agents').description("the tenant's agents: list, get, create, delete");
withPaging(withApi(agents.command('list').description('list the agents (current versions)'))).action(
  (opts: ApiOptions & PageOptions) =>
    apiAction(opts, (client, out) => agentCommands.list(client, pageOf(opts), out)),
);
withApi(
  agents
    .command('get')
    .description("show an agent's current version, or one version")
    .argument('<agent_id>')
    .option('--version <n>', 'this version instead of the current one', positiveInt),
).action((agentId: string, opts: ApiOptions & { version?: number }) =>
  apiAction(opts, (client, out) => agentCommands.get(client, agentId, opts.version, out)),
);
withApi(
  agents
    .command('create')
    .description('create an agent from a JSON spec (POST /v1/agents body)')
    .option('--file <path>', 'the spec (default or -: standard input)'),
).action((opts: ApiOptions & { file?: string }) =>
  apiAction(opts, async (client, out) => agentCommands.create(client, await readSpec(opts.file), out)),
);
withApi(
  agents.command('delete').description('delete an agent (its versions stay readable)').argument('<agent_id>'),
).action((agentId: string, opts: ApiOptions) =>
  apiAction(opts, (client, out) => agentCommands.delete(client, agentId, out)),
);

const tools = program
  .command('tools')
  .description("the built-in tools and the tenant's HTTP tools: list, get, create, delete");
withPaging(withApi(tools.command('list').description('list the tools (built-ins first)'))).action(
  (opts: ApiOptions & PageOptions) =>
    apiAction(opts, (client, out) => toolCommands.list(client, pageOf(opts), out)),
);
withApi(tools.command('get').description('show a tool').argument('<tool_id>')).action(
  (toolId: string, opts: ApiOptions) =>
    apiAction(opts, (client, out) => toolCommands.get(client, toolId, out)),
);
withApi(
  tools
    .command('create')
    .description('declare an HTTP tool from a JSON spec (POST /v1/tools body)')
    .option('--file <path>', 'the spec (default or -: standard input)'),
).action((opts: ApiOptions & { file?: string }) =>
  apiAction(opts, async (client, out) => toolCommands.create(client, await readSpec(opts.file), out)),
);
withApi(tools.command('delete').description('delete an HTTP tool').argument('<tool_id>')).action(
  (toolId: string, opts: ApiOptions) =>
    apiAction(opts, (client, out) => toolCommands.delete(client, toolId, out)),
);

const runs = program
  .command('runs')
  .description("the tenant's runs: list, get, events, steps; an operator's list --tenant and stop");
withPaging(
  withApi(
    runs
      .command('list')
      .description(
        'list runs, newest first; with --tenant, as an operator: every run of that tenant (any principal)',
      )
      .option('--status <status>', `only runs in this status (${runStatuses.join(', ')})`, runStatus),
    operatorTenantHelp,
  ),
).action((opts: ApiOptions & PageOptions & { status?: string }) => {
  const tenant = opts.tenant;
  return tenant === undefined
    ? apiAction(opts, (client, out) => runCommands.list(client, opts.status, pageOf(opts), out))
    : apiAction(
        opts,
        (client, out) => operatorRunCommands.list(client, tenant, opts.status, pageOf(opts), out),
        'operator',
      );
});
withApi(
  runs
    .command('stop')
    .description(
      "operator kill switch: end a tenant's runs canceled with a reason (stops long executions, frees slots); writes a report",
    )
    .requiredOption('--reason <text>', 'why: carried by each run.canceled event and the audit log')
    .option('--run <run_id...>', 'the runs to stop')
    .option('--all', 'every queued or running run of the tenant'),
  `${operatorTenantHelp}; required`,
).action((opts: ApiOptions & { reason: string; run?: string[]; all?: boolean }) => {
  const tenant = opts.tenant;
  if (tenant === undefined) throw new InvalidArgumentError('runs stop needs --tenant <id>');
  if ((opts.run === undefined) === (opts.all !== true))
    throw new InvalidArgumentError('runs stop takes exactly one of --run <run_id...> and --all');
  const selection = opts.all === true ? { all: true as const } : { runIds: opts.run ?? [] };
  return apiAction(
    opts,
    (client, out, target) =>
      operatorRunCommands.stop(client, tenant, selection, opts.reason, { target }, out),
    'operator',
  );
});
withApi(runs.command('get').description('show a run').argument('<run_id>')).action(
  (runId: string, opts: ApiOptions) => apiAction(opts, (client, out) => runCommands.get(client, runId, out)),
);
withApi(
  runs
    .command('events')
    .description("print a run's events so far")
    .argument('<run_id>')
    .option('--after <sequence>', 'only events after this sequence', nonNegativeInt, 0)
    .option('-f, --follow', 'keep printing new events until the run ends (--json: one event per line)'),
).action((runId: string, opts: ApiOptions & { after: number; follow?: boolean }) =>
  apiAction(opts, (client, out) =>
    opts.follow === true
      ? runCommands.follow(client, runId, opts.after, out)
      : runCommands.events(client, runId, opts.after, out),
  ),
);
withPaging(
  withApi(
    runs
      .command('steps')
      .description("print a run's steps: model calls, tool calls, errors")
      .argument('<run_id>'),
  ),
).action((runId: string, opts: ApiOptions & PageOptions) =>
  apiAction(opts, (client, out) => runCommands.steps(client, runId, pageOf(opts), out)),
);

withApi(
  program
    .command('capacity')
    .description("operator: the node's run slots in use and the step queue's depth (HLD §10.2)"),
).action((opts: ApiOptions) =>
  apiAction(opts, (client, out) => capacityCommand.show(client, out), 'operator'),
);

const peers = program
  .command('peers')
  .description("operator: the node's trusted federation peers (HLD §7.1): add, list, remove");
withApi(
  peers
    .command('add')
    .description('trust a peer for some tenants (POST /v1/admin/peers); writes a report')
    .argument('<peer_id>', "the peer's node id (its GET /v1/peer/info node_id)")
    .requiredOption('--url <base_url>', "the peer's Orchestrator base URL")
    .option(
      '--keys-url <url>',
      'where the peer publishes its keys (default: <base_url>/.well-known/jwks.json)',
    )
    .option(
      '--discover',
      "read the peer's GET /v1/peer/info first: its node id must match, its JWKS URL is used",
    )
    .option(
      '--tenant-map <mapping...>',
      'the tenants it may act for: <tenant_id> (same id on both nodes) or <tenant_id>=<peer_tenant_id>',
      (value: string, previous: { tenant_id: string; peer_tenant_id: string }[] = []) => [
        ...previous,
        tenantMapping(value),
      ],
    ),
).action(
  (
    peerId: string,
    opts: ApiOptions & {
      url: string;
      keysUrl?: string;
      discover?: boolean;
      tenantMap?: { tenant_id: string; peer_tenant_id: string }[];
    },
  ) =>
    apiAction(
      opts,
      async (client, out, target) =>
        peerCommands.add(
          client,
          peerId,
          {
            baseUrl: opts.url,
            ...(opts.discover === true ? await discoverPeer(peerId, opts.url) : {}),
            ...(opts.keysUrl === undefined ? {} : { jwksUrl: opts.keysUrl }),
            tenants: opts.tenantMap ?? [],
          },
          { target },
          out,
        ),
      'operator',
    ),
);
withPaging(withApi(peers.command('list').description('list the trusted peers'))).action(
  (opts: ApiOptions & PageOptions) =>
    apiAction(opts, (client, out) => peerCommands.list(client, pageOf(opts), out), 'operator'),
);
withApi(
  peers
    .command('remove')
    .description(
      'stop trusting a peer: its tokens are refused (DELETE /v1/admin/peers/{id}); writes a report',
    )
    .argument('<peer_id>'),
).action((peerId: string, opts: ApiOptions) =>
  apiAction(opts, (client, out, target) => peerCommands.remove(client, peerId, { target }, out), 'operator'),
);

const tenants = program
  .command('tenants')
  .description("operator: the node's tenants: create, list, get, update, disable, enable");
withApi(
  tenants
    .command('create')
    .description('register a tenant (POST /v1/admin/tenants); writes a report')
    .argument('<tenant_id>')
    .option('--file <path>', 'a JSON TenantSpec: display_name, quotas, tool_allowlist (default: none)')
    .option('--name <text>', 'its display name'),
).action(async (tenantId: string, opts: ApiOptions & { file?: string; name?: string }) => {
  const spec = {
    ...(opts.file === undefined ? {} : await readSpec(opts.file)),
    ...(opts.name === undefined ? {} : { display_name: opts.name }),
    tenant_id: tenantId,
  };
  return apiAction(
    opts,
    (client, out, target) => tenantCommands.create(client, spec, { target }, out),
    'operator',
  );
});
withPaging(withApi(tenants.command('list').description('list the tenants'))).action(
  (opts: ApiOptions & PageOptions) =>
    apiAction(opts, (client, out) => tenantCommands.list(client, pageOf(opts), out), 'operator'),
);
withApi(
  tenants
    .command('get')
    .description('show a tenant and where its model policy lives')
    .argument('<tenant_id>'),
).action((tenantId: string, opts: ApiOptions) =>
  apiAction(opts, (client, out) => tenantCommands.get(client, tenantId, out), 'operator'),
);
withApi(
  tenants
    .command('update')
    .description('change quotas, name or tool allow-list (PATCH body, from --file or stdin); writes a report')
    .argument('<tenant_id>')
    .option('--file <path>', 'the change (default or -: standard input)'),
).action(async (tenantId: string, opts: ApiOptions & { file?: string }) => {
  const spec = await readSpec(opts.file);
  return apiAction(
    opts,
    (client, out, target) => tenantCommands.update(client, tenantId, spec, { target }, out),
    'operator',
  );
});
withApi(
  tenants
    .command('disable')
    .description("refuse the tenant's tokens and stop its runs; writes a report")
    .argument('<tenant_id>')
    .requiredOption('--reason <text>', 'why: kept on the tenant and on its stopped runs'),
).action((tenantId: string, opts: ApiOptions & { reason: string }) =>
  apiAction(
    opts,
    (client, out, target) => tenantCommands.disable(client, tenantId, opts.reason, { target }, out),
    'operator',
  ),
);
withApi(
  tenants
    .command('enable')
    .description('admit a disabled tenant again; writes a report')
    .argument('<tenant_id>'),
).action((tenantId: string, opts: ApiOptions) =>
  apiAction(
    opts,
    (client, out, target) => tenantCommands.enable(client, tenantId, { target }, out),
    'operator',
  ),
);

const principals = program
  .command('principals')
  .description("tenant admin: the tenant's principals and their tokens");
withPaging(withApi(principals.command('list').description('list the principals'))).action(
  (opts: ApiOptions & PageOptions) =>
    apiAction(opts, (client, out) => principalCommands.list(client, pageOf(opts), out), 'tenant-admin'),
);
withApi(principals.command('get').description('show a principal').argument('<principal_id>')).action(
  (principalId: string, opts: ApiOptions) =>
    apiAction(opts, (client, out) => principalCommands.get(client, principalId, out), 'tenant-admin'),
);
withApi(
  principals
    .command('put')
    .description('create or replace a principal with its scopes; writes a report')
    .argument('<principal_id>')
    .requiredOption('--scopes <scope...>', 'the scopes its tokens may carry')
    .option('--type <type>', 'user or service', 'user')
    .option('--name <text>', 'its display name'),
).action((principalId: string, opts: ApiOptions & { scopes: string[]; type: string; name?: string }) => {
  const spec = {
    type: opts.type,
    scopes: opts.scopes,
    ...(opts.name === undefined ? {} : { display_name: opts.name }),
  };
  return apiAction(
    opts,
    (client, out, target) => principalCommands.put(client, principalId, spec, { target }, out),
    'tenant-admin',
  );
});
withApi(
  principals
    .command('disable')
    .description('disable a principal and revoke its tokens; writes a report')
    .argument('<principal_id>'),
).action((principalId: string, opts: ApiOptions) =>
  apiAction(
    opts,
    (client, out, target) => principalCommands.disable(client, principalId, { target }, out),
    'tenant-admin',
  ),
);
withApi(
  principals
    .command('enable')
    .description('enable a disabled principal again; writes a report')
    .argument('<principal_id>'),
).action((principalId: string, opts: ApiOptions) =>
  apiAction(
    opts,
    (client, out, target) => principalCommands.enable(client, principalId, { target }, out),
    'tenant-admin',
  ),
);
withApi(
  principals
    .command('token')
    .description('issue a token to a principal and print it (shown once); writes a report without it')
    .argument('<principal_id>')
    .option('--ttl <seconds>', "lifetime (default and most: the node's maximum)", tokenLifetime)
    .option('--scopes <scope...>', "a subset of the principal's scopes (default: all of them)"),
).action((principalId: string, opts: ApiOptions & { ttl?: number; scopes?: string[] }) => {
  const request = {
    ...(opts.ttl === undefined ? {} : { ttl_seconds: opts.ttl }),
    ...(opts.scopes === undefined ? {} : { scopes: opts.scopes }),
  };
  return apiAction(
    opts,
    (client, out, target) => principalCommands.token(client, principalId, request, { target }, out),
    'tenant-admin',
  );
});
withPaging(
  withApi(
    principals
      .command('tokens')
      .description('list issued tokens (metadata only)')
      .option('--principal <principal_id>', "only this principal's tokens"),
  ),
).action((opts: ApiOptions & PageOptions & { principal?: string }) =>
  apiAction(
    opts,
    (client, out) => principalCommands.tokens(client, opts.principal, pageOf(opts), out),
    'tenant-admin',
  ),
);
withApi(
  principals.command('revoke').description('revoke an issued token; writes a report').argument('<token_id>'),
).action((tokenId: string, opts: ApiOptions) =>
  apiAction(
    opts,
    (client, out, target) => principalCommands.revoke(client, tokenId, { target }, out),
    'tenant-admin',
  ),
);

program
  .command('completion')
  .description('print a shell completion script: `source <(agentos completion bash)`, or zsh')
  .argument('<shell>', completionShells.join(' or '))
  .action((shell: string) => {
    if (!(completionShells as readonly string[]).includes(shell))
      throw new InvalidArgumentError(`completion takes ${completionShells.join(' or ')}`);
    process.stdout.write(completionScript(program, shell as CompletionShell));
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const { line, exitCode } = describeCliError(error);
  process.stderr.write(`agentos: ${line}\n`);
  process.exitCode = exitCode;
}
