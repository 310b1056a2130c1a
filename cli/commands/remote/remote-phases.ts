import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { registerTenants, seedTenantCatalog } from '../../local/seed.ts';
import { localNodeDefaults } from '../../local/local-defaults.ts';
import { reportsDir } from '../../local/project-paths.ts';
import { runPreflight } from '../../aws/preflight.ts';
import { describeStack } from '../../aws/status-stack.ts';
import { ensureNodeSigningKeys } from '../../aws/node-signing-keys.ts';
import type { RemoteNodeKeys } from '../../aws/node-signing-keys.ts';
import { runCdk, tail } from '../../aws/cdk-cli.ts';
import { cdkEnvironment } from '../../aws/target.ts';
import { endpointUrl, policyCheck, smokeRunCheck, wireChecks } from '../../reports/node-checks.ts';
import type { NodeEndpoints } from '../../reports/node-checks.ts';
import { finishOperatorReport } from '../../reports/operator-report.ts';
import { cdkDeploy, ensureSesSender } from './deploy.ts';
import type { DeployResult } from './deploy.ts';
import type { NodeTokens } from './node-access.ts';
import { operatorTenantId } from './node-access.ts';
import type { RemoteContext } from './remote-context.ts';
import { maskAccount, maskIdentifiers } from '../../aws/preflight-text.ts';

/**
 * Preflight: every check of cli/aws/preflight.ts, each failure with its fix. A missing CDK bootstrap
 * is bootstrapped when the operator asked for it (`--bootstrap`), else it stops `up` with the command.
 */
export async function preflightPhase(
  context: RemoteContext,
  options: { bootstrap: boolean },
  note: (detail: string) => void,
): Promise<string> {
  let result = await runPreflight(context.target, context.config, { env: context.env });
  const bootstrapCheck = result.checks.find((check) => check.name === 'cdk bootstrap');
  if (options.bootstrap && bootstrapCheck?.outcome === 'failed' && result.account !== undefined) {
    note(`bootstrapping aws://${maskAccount(result.account)}/${context.target.region} (cdk bootstrap)`);
    await cdkBootstrap(context, result.account);
    result = await runPreflight(context.target, context.config, { env: context.env });
  }
  for (const check of result.checks) {
    context.report.health.push(check);
    if (check.outcome === 'failed')
      context.report.notes.push(
        `Preflight ${check.name}: ${check.detail}${check.fix === undefined ? '' : ` — fix: ${check.fix}`}`,
      );
  }
  if (result.account !== undefined) context.report.endpoints['account'] = maskAccount(result.account);
  context.report.endpoints['region'] = context.target.region;
  if (!result.ok || result.account === undefined) {
    const failed = result.checks.filter((check) => check.outcome === 'failed');
    throw new Error(
      failed
        .map(
          (check) => `${check.name}: ${check.detail}${check.fix === undefined ? '' : ` (fix: ${check.fix})`}`,
        )
        .join('; ') || 'preflight could not identify the account',
    );
  }
  const skipped = result.checks.filter((check) => check.outcome === 'skipped').map((check) => check.name);
  return `${result.checks.length - skipped.length} checks passed${skipped.length === 0 ? '' : `, skipped: ${skipped.join(', ')}`}`;
}

/** `cdk bootstrap aws://<account>/<region>`, run from a folder without cdk.json (no app synthesis). */
async function cdkBootstrap(context: RemoteContext, account: string): Promise<void> {
  const result = await runCdk(
    ['bootstrap', `aws://${account}/${context.target.region}`, '--no-notices', '--no-version-reporting'],
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
}

/** The node's keys and the alert sender, both outside the stack, then `cdk deploy`. */
export async function bootPhase(
  context: RemoteContext,
  note: (detail: string) => void,
): Promise<{ keys: RemoteNodeKeys; deployed: DeployResult }> {
  note(await ensureSesSender(context));
  const keys = await ensureNodeSigningKeys(context.client, context.target.stage);
  note(`${keys.created ? 'created' : 'kept'} the node signing keys (${keys.kids.join(', ')})`);
  const started = Date.now();
  const deployed = await cdkDeploy(context, keys);
  recordDeployment(context, deployed);
  note(`cdk deploy ${context.stackName}: ${Date.now() - started} ms`);
  return { keys, deployed };
}

/** Puts what a deploy produced into the report: endpoints, stack, bundle sizes. */
export function recordDeployment(context: RemoteContext, deployed: DeployResult): void {
  const { outputs } = deployed;
  Object.assign(context.report.endpoints, {
    stack: context.stackName,
    orchestrator_api: outputs['OrchestratorApiUrl'] ?? '',
    model_policy_api: outputs['ModelPolicyApiUrl'] ?? '',
    node_issuer: outputs['NodeIssuer'] ?? '',
    table: outputs['TableName'] ?? '',
  });
  context.report.notes.push(
    `Bundle sizes: ${Object.entries(deployed.bundleBytes)
      .map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)} KiB`)
      .join(', ')}`,
  );
}

/** The deployed stack's outputs; throws naming `agentos up` when the stage is not deployed. */
export async function deployedOutputs(context: RemoteContext): Promise<Record<string, string>> {
  const cloudFormation = new CloudFormationClient(context.client);
  try {
    const state = await describeStack(cloudFormation, context.stackName);
    if (!state.deployed)
      throw new Error(
        `stage "${context.target.stage}" is not deployed (no stack ${context.stackName}); run \`agentos up\``,
      );
    if (!/_COMPLETE$/.test(state.status) || /ROLLBACK|DELETE/.test(state.status))
      throw new Error(
        `the stack ${context.stackName} is ${state.status}${state.reason === undefined ? '' : ` (${state.reason})`}`,
      );
    return state.outputs;
  } finally {
    cloudFormation.destroy();
  }
}

/** Seed: the tenant and its admin, the sample agent and tool, and the tenant's model policy. */
export async function seedPhase(
  context: RemoteContext,
  outputs: Record<string, string>,
  endpoints: NodeEndpoints,
  tokens: NodeTokens,
  note: (detail: string) => void,
): Promise<void> {
  const tableName = outputs['TableName'];
  if (tableName === undefined) throw new Error(`the stack ${context.stackName} has no TableName output`);
  const { tenant, admin_principal: admin } = context.config.seed;
  const { endpoint, ...rest } = context.client;
  const aws = {
    region: rest.region,
    maxAttempts: rest.maxAttempts,
    requestHandler: rest.requestHandler,
    ...(endpoint === undefined ? {} : { endpoint }),
  };
  // The node admits only registered tenants (HLD §5.2): the seeded one and the operators'.
  const registered = await registerTenants({
    aws,
    tableName,
    tenantIds: [tenant, operatorTenantId],
    by: 'agentos up',
  });
  if (registered.length > 0) note(`registered tenants ${registered.join(', ')}`);
  const seeded = await seedTenantCatalog({
    aws,
    tableName,
    tenantId: tenant,
    adminPrincipal: admin,
  });
  // The local node's starting policy: local models and tiers, finite budgets; operators change it
  // with `agentos model-policy set` or the admin API.
  const policy = localNodeDefaults(context.target.stage, 0).tenantModelPolicy;
  const response = await fetch(
    endpointUrl(endpoints.modelPolicy, `/v1/admin/tenants/${tenant}/model-policy`),
    {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(policy),
      signal: AbortSignal.timeout(15_000),
    },
  );
  if (!response.ok)
    throw new Error(
      `setting the tenant's model policy answered ${response.status}: ${await response.text()}`,
    );
  context.report.seeded = {
    tenant: seeded.tenantId,
    tenant_admin: seeded.adminPrincipal,
    sample_agent: seeded.agentId,
    sample_tool: seeded.toolId,
  };
  note(
    `tenant ${seeded.tenantId}, admin ${seeded.adminPrincipal}, agent ${seeded.agentId}, tool ${seeded.toolId}`,
  );
}

/** Wire and validate: health, JWKS, models, a policy check and the smoke run over SSE. */
export async function checkPhases(
  context: RemoteContext,
  endpoints: NodeEndpoints,
  tokens: NodeTokens,
): Promise<void> {
  const { runner, report } = context;
  report.endpoints['orchestrator'] = endpoints.orchestrator;
  report.endpoints['model_policy'] = endpoints.modelPolicy;
  const mtls = context.config.federation.mtls;
  if (mtls !== undefined) {
    // Behind mutual TLS the Orchestrator refuses any client without a certificate its truststore
    // signed, and the CLI presents none: its checks would fail whatever the node's state.
    report.notes.push(
      `The Orchestrator is served behind mutual TLS on ${mtls.domain_name}: the CLI presents no client ` +
        'certificate, so its health, JWKS and smoke-run checks were skipped. Point the domain’s DNS ' +
        'record at the stack output OrchestratorRegionalDomainName, then check it from a host holding a ' +
        `client certificate (curl --cert client.pem --key client.key https://${mtls.domain_name}/v1/health).`,
    );
  }
  await runner.run('wire', async (note) =>
    note(
      await wireChecks(report, endpoints, tokens.tenant, {
        activeKid: tokens.activeKid,
        orchestrator: mtls === undefined,
      }),
    ),
  );
  await runner.run('validate', async (note) => {
    await policyCheck(report, endpoints, tokens.tenant, 'local/scripted');
    note(
      mtls === undefined
        ? await smokeRunCheck(
            report,
            endpoints,
            tokens.tenant,
            report.seeded['sample_agent'] ?? 'sample-agent',
          )
        : 'smoke run skipped: the Orchestrator requires a client certificate (see the report notes)',
    );
  });
}

/** Report: writes reports/<action>-<ts>.{md,json} and prints where; returns the exit code. */
export async function finishRemote(
  context: RemoteContext,
  summary: { green: string; red: string },
): Promise<number> {
  const { report, out } = context;
  // Reports are shared: the account id appears in ARNs the tools quote, and is masked everywhere.
  report.notes = report.notes.map(maskIdentifiers);
  for (const check of [...report.health, ...report.smoke, ...report.phases]) {
    check.detail = maskIdentifiers(check.detail);
    // Preflight checks carry the fix command, which names the account too.
    const withFix = check as { fix?: unknown };
    if (typeof withFix.fix === 'string') withFix.fix = maskIdentifiers(withFix.fix);
  }
  const written = await finishOperatorReport(reportsDir(), report);
  const green = report.outcome === 'green';
  out.write(`\n${green ? `✔ ${summary.green}` : `✘ ${summary.red}`} — report: ${written.markdown}\n`);
  if (!green)
    for (const line of report.notes.filter((n) => n.startsWith('Stopped') || n.startsWith('Preflight')))
      out.write(`  ${line}\n`);
  return green ? 0 : 1;
}
