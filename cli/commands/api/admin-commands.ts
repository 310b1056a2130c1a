import type { Target } from '../../aws/target.ts';
import type { AgentOsClient } from '../../client/agentos-client.ts';
import { reportsDir } from '../../local/project-paths.ts';
import { finishOperatorReport, newOperatorReport } from '../../reports/operator-report.ts';
import type { Outcome } from '../../reports/operator-report.ts';
import { emit, emitList, expectStatus, segment, showResource, table } from './resource-output.ts';
import type { CommandOutput, PageOptions } from './resource-output.ts';

/**
 * `agentos tenants …` (operator), `agentos principals …` (tenant admin) and the operator's
 * `agentos runs list|stop --tenant T`: thin commands over the Orchestrator's administration routes
 * (functions/orchestrator/README.md lists them). Every command that changes something writes an
 * operator report (`reports/<action>-<time>.md` and `.json`) saying who did what, never a token.
 */

/** Paging options of the list commands. */
export type AdminPageOptions = PageOptions;

/** Where a state-changing command's report goes, and which node it names. */
export type ReportTarget = { target: Target; dir?: string };

/** A state-changing request of a command, and what its report and its human output say of it. */
type Change<T> = {
  action: string;
  phase: string;
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  status: number;
  /** The report's phase detail and notes for the request's result. */
  report: (result: T) => { detail: string; notes?: string[] };
  /** The human output (`--json` prints the result itself). */
  say: (result: T) => string;
  /** What `--json` prints when the answer has no body (a 204); default: the result. */
  json?: (result: T) => unknown;
};

/**
 * Sends a state-changing request and writes its report whatever happens: green when the node
 * answers `status`, red (and rethrown) when it refuses or cannot be reached. The report's notes say
 * what changed; the result is then written to the output.
 */
export async function reported<T>(
  client: AgentOsClient,
  where: ReportTarget,
  change: Change<T>,
  output: CommandOutput,
): Promise<T> {
  const nodeId = where.target.kind === 'local' ? where.target.nodeId : where.target.stage;
  const report = newOperatorReport(change.action, nodeId, 'not part of this command');
  if (where.target.kind !== 'local') report.mode = 'aws';
  const started = Date.now();
  let outcome: Outcome = 'failed';
  let detail = '';
  let result: T;
  try {
    result = expectStatus<T>(
      await client.request(
        change.method,
        change.path,
        change.body === undefined ? undefined : { body: change.body },
      ),
      change.status,
    );
    const done = change.report(result);
    outcome = 'ok';
    detail = done.detail;
    report.notes.push(...(done.notes ?? []));
    report.outcome = 'green';
  } catch (error) {
    detail = (error as Error).message;
    throw error;
  } finally {
    report.phases.push({ name: change.phase, outcome, duration_ms: Date.now() - started, detail });
    const written = await finishOperatorReport(where.dir ?? reportsDir(), report);
    output.err.write(`report: ${written.markdown}\n`);
  }
  emit(output, change.json === undefined ? result : change.json(result), () => change.say(result));
  return result;
}

const tenantColumns = [
  { title: 'TENANT_ID', value: (t: Record<string, unknown>) => t['tenant_id'] },
  { title: 'STATUS', value: (t: Record<string, unknown>) => t['status'] },
  { title: 'NAME', value: (t: Record<string, unknown>) => t['display_name'], max: 40 },
  { title: 'VERSION', value: (t: Record<string, unknown>) => t['version'] },
  {
    title: 'RUNS/S',
    value: (t: Record<string, unknown>) => (t['quotas'] as Record<string, unknown>)['runs_per_second'],
  },
  {
    title: 'CONCURRENT',
    value: (t: Record<string, unknown>) => (t['quotas'] as Record<string, unknown>)['max_concurrent_runs'],
  },
  { title: 'REASON', value: (t: Record<string, unknown>) => t['disabled_reason'], max: 40 },
];

const tenantPath = (tenantId: string) => `/v1/admin/tenants/${segment(tenantId)}`;

/** `agentos tenants create|list|get|update|disable|enable` (operator). */
export const tenantCommands = {
  async create(
    client: AgentOsClient,
    spec: Record<string, unknown>,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    await reported<Record<string, unknown>>(
      client,
      where,
      {
        action: 'tenants-create',
        phase: 'create tenant',
        method: 'POST',
        path: '/v1/admin/tenants',
        body: spec,
        status: 201,
        report: (created) => ({
          detail: `created tenant ${String(created['tenant_id'])}`,
          notes: [`quotas: ${JSON.stringify(created['quotas'])}`],
        }),
        say: (created) => `created tenant ${String(created['tenant_id'])}\n`,
      },
      output,
    );
    return 0;
  },

  list: (client: AgentOsClient, page: AdminPageOptions, output: CommandOutput) =>
    emitList(client, '/v1/admin/tenants', {}, page, tenantColumns, output),

  get: (client: AgentOsClient, tenantId: string, output: CommandOutput) =>
    showResource(client, tenantPath(tenantId), output),

  async update(
    client: AgentOsClient,
    tenantId: string,
    spec: Record<string, unknown>,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    await reported<Record<string, unknown>>(
      client,
      where,
      {
        action: 'tenants-update',
        phase: 'update tenant',
        method: 'PATCH',
        path: tenantPath(tenantId),
        body: spec,
        status: 200,
        report: (updated) => ({
          detail: `tenant ${tenantId} now at version ${String(updated['version'])}`,
          notes: [`change: ${JSON.stringify(spec)}`],
        }),
        say: (updated) => `updated tenant ${tenantId} (version ${String(updated['version'])})\n`,
      },
      output,
    );
    return 0;
  },

  async disable(
    client: AgentOsClient,
    tenantId: string,
    reason: string,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    await reported<Record<string, unknown> & { stopped_runs: string[]; continues_in_background?: boolean }>(
      client,
      where,
      {
        action: 'tenants-disable',
        phase: 'disable tenant',
        method: 'POST',
        path: `${tenantPath(tenantId)}:disable`,
        body: { reason },
        status: 200,
        report: (disabled) => ({
          detail: `tenant ${tenantId} disabled, ${disabled.stopped_runs.length} run(s) stopped${moreInBackground(disabled.continues_in_background)}`,
          notes: [`reason: ${reason}`, `stopped runs: ${disabled.stopped_runs.join(', ') || 'none'}`],
        }),
        say: (disabled) =>
          `disabled tenant ${tenantId}; stopped ${disabled.stopped_runs.length} run(s)${moreInBackground(disabled.continues_in_background)}\n`,
      },
      output,
    );
    return 0;
  },

  async enable(
    client: AgentOsClient,
    tenantId: string,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    await reported(
      client,
      where,
      {
        action: 'tenants-enable',
        phase: 'enable tenant',
        method: 'POST',
        path: `${tenantPath(tenantId)}:enable`,
        status: 200,
        report: () => ({ detail: `tenant ${tenantId} enabled` }),
        say: () => `enabled tenant ${tenantId}\n`,
      },
      output,
    );
    return 0;
  },
};

const runColumns = [
  { title: 'RUN_ID', value: (r: Record<string, unknown>) => r['run_id'] },
  { title: 'STATUS', value: (r: Record<string, unknown>) => r['status'] },
  { title: 'AGENT', value: (r: Record<string, unknown>) => r['agent_id'] },
  { title: 'STEPS', value: (r: Record<string, unknown>) => r['steps_completed'] },
  { title: 'CREATED', value: (r: Record<string, unknown>) => r['created_at'] },
];

/** Says that more runs are being stopped in the background, when they are. */
function moreInBackground(continuing: boolean | undefined): string {
  return continuing === true ? '; more are being stopped in the background' : '';
}

type StopResult = {
  stopped: string[];
  continues_in_background?: boolean;
  already_over: { run_id: string; status: string }[];
  not_found: string[];
};

/** The operator's `agentos runs list --tenant T` and `agentos runs stop --tenant T`. */
export const operatorRunCommands = {
  list: (
    client: AgentOsClient,
    tenantId: string,
    status: string | undefined,
    page: AdminPageOptions,
    output: CommandOutput,
  ) => emitList(client, `${tenantPath(tenantId)}/runs`, { status }, page, runColumns, output),

  async stop(
    client: AgentOsClient,
    tenantId: string,
    selection: { runIds: string[] } | { all: true },
    reason: string,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    const result = await reported<StopResult>(
      client,
      where,
      {
        action: 'runs-stop',
        phase: 'stop runs',
        method: 'POST',
        path: `${tenantPath(tenantId)}/runs:stop`,
        body: 'all' in selection ? { all: true, reason } : { run_ids: selection.runIds, reason },
        status: 200,
        report: (answer) => ({
          detail: `tenant ${tenantId}: ${answer.stopped.length} stopped, ${answer.already_over.length} already over, ${answer.not_found.length} not found${moreInBackground(answer.continues_in_background)}`,
          notes: [
            `reason: ${reason}`,
            `stopped: ${answer.stopped.join(', ') || 'none'}`,
            ...(answer.already_over.length === 0
              ? []
              : [
                  `already over: ${answer.already_over.map((run) => `${run.run_id} (${run.status})`).join(', ')}`,
                ]),
            ...(answer.not_found.length === 0 ? [] : [`not found: ${answer.not_found.join(', ')}`]),
          ],
        }),
        say: (answer) =>
          `${table(
            [
              { title: 'RUN_ID', value: (r: { run_id: string }) => r.run_id },
              { title: 'OUTCOME', value: (r: { outcome: string }) => r.outcome },
            ],
            [
              ...answer.stopped.map((runId) => ({ run_id: runId, outcome: 'stopped' })),
              ...answer.already_over.map((run) => ({ run_id: run.run_id, outcome: `already ${run.status}` })),
              ...answer.not_found.map((runId) => ({ run_id: runId, outcome: 'not found' })),
            ],
          )}${answer.continues_in_background === true ? 'More runs are being stopped in the background.\n' : ''}`,
      },
      output,
    );
    // Runs named that do not exist are a failed request in part: exit 1 so scripts notice.
    return result.not_found.length === 0 ? 0 : 1;
  },
};

const principalPath = (principalId: string) => `/v1/tenant/principals/${segment(principalId)}`;

/** `agentos principals list|get|put|disable|enable|token|tokens|revoke` (tenant admin). */
export const principalCommands = {
  list: (client: AgentOsClient, page: AdminPageOptions, output: CommandOutput) =>
    emitList(
      client,
      '/v1/tenant/principals',
      {},
      page,
      [
        { title: 'PRINCIPAL_ID', value: (p: Record<string, unknown>) => p['principal_id'] },
        { title: 'TYPE', value: (p: Record<string, unknown>) => p['type'] },
        { title: 'STATUS', value: (p: Record<string, unknown>) => p['status'] },
        {
          title: 'SCOPES',
          value: (p: Record<string, unknown>) => (p['scopes'] as string[]).join(' '),
          max: 80,
        },
      ],
      output,
    ),

  get: (client: AgentOsClient, principalId: string, output: CommandOutput) =>
    showResource(client, principalPath(principalId), output),

  async put(
    client: AgentOsClient,
    principalId: string,
    spec: Record<string, unknown>,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    await reported<Record<string, unknown>>(
      client,
      where,
      {
        action: 'principals-put',
        phase: 'put principal',
        method: 'PUT',
        path: principalPath(principalId),
        body: spec,
        status: 200,
        report: (stored) => ({
          detail: `principal ${principalId} stored`,
          notes: [`scopes: ${(stored['scopes'] as string[]).join(' ')}`],
        }),
        say: () => `stored principal ${principalId}\n`,
      },
      output,
    );
    return 0;
  },

  async disable(
    client: AgentOsClient,
    principalId: string,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    await reported(
      client,
      where,
      {
        action: 'principals-disable',
        phase: 'disable principal',
        method: 'POST',
        path: `${principalPath(principalId)}:disable`,
        status: 200,
        report: () => ({ detail: `principal ${principalId} disabled and its tokens revoked` }),
        say: () => `disabled principal ${principalId}; its tokens are refused\n`,
      },
      output,
    );
    return 0;
  },

  async enable(
    client: AgentOsClient,
    principalId: string,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    await reported(
      client,
      where,
      {
        action: 'principals-enable',
        phase: 'enable principal',
        method: 'POST',
        path: `${principalPath(principalId)}:enable`,
        status: 200,
        report: () => ({ detail: `principal ${principalId} enabled again` }),
        say: () =>
          `enabled principal ${principalId}; its tokens issued before it was disabled stay refused\n`,
      },
      output,
    );
    return 0;
  },

  /** Issues a token; the token itself goes to standard output only, never into the report. */
  async token(
    client: AgentOsClient,
    principalId: string,
    request: { ttl_seconds?: number; scopes?: string[] },
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    await reported<Record<string, unknown> & { token: string }>(
      client,
      where,
      {
        action: 'principals-token',
        phase: 'issue token',
        method: 'POST',
        path: `${principalPath(principalId)}/tokens`,
        body: request,
        status: 201,
        report: (issued) => ({
          detail: `token ${String(issued['token_id'])} issued to ${principalId}`,
          notes: [
            `scopes: ${(issued['scopes'] as string[]).join(' ')}`,
            `expires: ${String(issued['expires_at'])}`,
          ],
        }),
        say: (issued) => `${issued.token}\n`,
      },
      output,
    );
    return 0;
  },

  tokens: (
    client: AgentOsClient,
    principalId: string | undefined,
    page: AdminPageOptions,
    output: CommandOutput,
  ) =>
    emitList(
      client,
      '/v1/tenant/tokens',
      { principal: principalId },
      page,
      [
        { title: 'TOKEN_ID', value: (t: Record<string, unknown>) => t['token_id'] },
        { title: 'PRINCIPAL', value: (t: Record<string, unknown>) => t['principal_id'] },
        { title: 'EXPIRES', value: (t: Record<string, unknown>) => t['expires_at'] },
        { title: 'REVOKED', value: (t: Record<string, unknown>) => t['revoked_at'] },
        { title: 'ISSUED_BY', value: (t: Record<string, unknown>) => t['issued_by'] },
        {
          title: 'SCOPES',
          value: (t: Record<string, unknown>) => (t['scopes'] as string[]).join(' '),
          max: 60,
        },
      ],
      output,
    ),

  async revoke(
    client: AgentOsClient,
    tokenId: string,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    await reported(
      client,
      where,
      {
        action: 'tokens-revoke',
        phase: 'revoke token',
        method: 'POST',
        path: `/v1/tenant/tokens/${segment(tokenId)}:revoke`,
        status: 200,
        report: () => ({ detail: `token ${tokenId} revoked` }),
        say: () => `revoked token ${tokenId}\n`,
      },
      output,
    );
    return 0;
  },
};
