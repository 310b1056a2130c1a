import type { Target } from '../../aws/target.ts';
import type { AgentOsClient } from '../../client/agentos-client.ts';
import { reportsDir } from '../../local/project-paths.ts';
import { finishOperatorReport, newOperatorReport } from '../../reports/operator-report.ts';
import type { Outcome } from '../../reports/operator-report.ts';
import { details, emit, expectStatus, table } from './resource-output.ts';
import type { CommandOutput } from './resource-output.ts';

/**
 * `agentos tenants …` (operator), `agentos principals …` (tenant admin) and the operator's
 * `agentos runs list|stop --tenant T`: thin commands over the Orchestrator's administration routes
 * (functions/orchestrator/README.md lists them). Every command that changes something writes an
 * operator report (`reports/<action>-<time>.md` and `.json`) saying who did what, never a token.
 */

type ListPage = { object: 'list'; data: Record<string, unknown>[]; next_cursor: string | null };

/** Paging options of the list commands. */
export type AdminPageOptions = { limit?: number; cursor?: string; all?: boolean };

const segment = (value: string) => encodeURIComponent(value);

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

async function listPages(
  client: AgentOsClient,
  path: string,
  params: Record<string, string | number | undefined>,
  page: AdminPageOptions,
): Promise<ListPage> {
  let cursor = page.cursor;
  const data: Record<string, unknown>[] = [];
  for (;;) {
    const body = expectStatus<ListPage>(
      await client.request('GET', `${path}${query({ ...params, limit: page.limit, cursor })}`),
      200,
    );
    data.push(...body.data);
    if (page.all !== true || body.next_cursor === null)
      return { object: 'list', data, next_cursor: body.next_cursor };
    cursor = body.next_cursor;
  }
}

function withMore(page: ListPage, text: string): string {
  return page.next_cursor === null ? text : `${text}(more: --cursor ${page.next_cursor}, or --all)\n`;
}

/** Where a state-changing command's report goes, and which node it names. */
export type ReportTarget = { target: Target; dir?: string };

/**
 * Runs a state-changing command and writes its report whatever happens: green when `change`
 * returns, red (and rethrown) when it throws. The report's notes say what changed.
 */
async function reported<T>(
  where: ReportTarget,
  action: string,
  phase: string,
  change: () => Promise<{ result: T; notes: string[]; detail: string }>,
  output: CommandOutput,
): Promise<T> {
  const nodeId = where.target.kind === 'local' ? where.target.nodeId : where.target.stage;
  const report = newOperatorReport(action, nodeId, 'not part of this command');
  if (where.target.kind !== 'local') report.mode = 'aws';
  const started = Date.now();
  let outcome: Outcome = 'failed';
  let detail = '';
  try {
    const done = await change();
    outcome = 'ok';
    detail = done.detail;
    report.notes.push(...done.notes);
    report.outcome = 'green';
    return done.result;
  } catch (error) {
    detail = (error as Error).message;
    throw error;
  } finally {
    report.phases.push({ name: phase, outcome, duration_ms: Date.now() - started, detail });
    const written = await finishOperatorReport(where.dir ?? reportsDir(), report);
    output.err.write(`report: ${written.markdown}\n`);
  }
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
    const tenant = await reported(
      where,
      'tenants-create',
      'create tenant',
      async () => {
        const created = expectStatus<Record<string, unknown>>(
          await client.request('POST', '/v1/admin/tenants', { body: spec }),
          201,
        );
        return {
          result: created,
          detail: `created tenant ${String(created['tenant_id'])}`,
          notes: [`quotas: ${JSON.stringify(created['quotas'])}`],
        };
      },
      output,
    );
    emit(output, tenant, () => `created tenant ${String(tenant['tenant_id'])}\n`);
    return 0;
  },

  async list(client: AgentOsClient, page: AdminPageOptions, output: CommandOutput): Promise<number> {
    const body = await listPages(client, '/v1/admin/tenants', {}, page);
    emit(output, body, () => withMore(body, table(tenantColumns, body.data)));
    return 0;
  },

  async get(client: AgentOsClient, tenantId: string, output: CommandOutput): Promise<number> {
    const tenant = expectStatus<Record<string, unknown>>(
      await client.request('GET', tenantPath(tenantId)),
      200,
    );
    emit(output, tenant, () => details(tenant));
    return 0;
  },

  async update(
    client: AgentOsClient,
    tenantId: string,
    spec: Record<string, unknown>,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    const tenant = await reported(
      where,
      'tenants-update',
      'update tenant',
      async () => {
        const updated = expectStatus<Record<string, unknown>>(
          await client.request('PATCH', tenantPath(tenantId), { body: spec }),
          200,
        );
        return {
          result: updated,
          detail: `tenant ${tenantId} now at version ${String(updated['version'])}`,
          notes: [`change: ${JSON.stringify(spec)}`],
        };
      },
      output,
    );
    emit(output, tenant, () => `updated tenant ${tenantId} (version ${String(tenant['version'])})\n`);
    return 0;
  },

  async disable(
    client: AgentOsClient,
    tenantId: string,
    reason: string,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    const tenant = await reported(
      where,
      'tenants-disable',
      'disable tenant',
      async () => {
        const disabled = expectStatus<Record<string, unknown> & { stopped_runs: string[] }>(
          await client.request('POST', `${tenantPath(tenantId)}:disable`, { body: { reason } }),
          200,
        );
        return {
          result: disabled,
          detail: `tenant ${tenantId} disabled, ${disabled.stopped_runs.length} run(s) stopped`,
          notes: [`reason: ${reason}`, `stopped runs: ${disabled.stopped_runs.join(', ') || 'none'}`],
        };
      },
      output,
    );
    emit(output, tenant, () => `disabled tenant ${tenantId}; stopped ${tenant.stopped_runs.length} run(s)\n`);
    return 0;
  },

  async enable(
    client: AgentOsClient,
    tenantId: string,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    const tenant = await reported(
      where,
      'tenants-enable',
      'enable tenant',
      async () => ({
        result: expectStatus<Record<string, unknown>>(
          await client.request('POST', `${tenantPath(tenantId)}:enable`),
          200,
        ),
        detail: `tenant ${tenantId} enabled`,
        notes: [],
      }),
      output,
    );
    emit(output, tenant, () => `enabled tenant ${tenantId}\n`);
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

type StopResult = {
  stopped: string[];
  already_over: { run_id: string; status: string }[];
  not_found: string[];
};

/** The operator's `agentos runs list --tenant T` and `agentos runs stop --tenant T`. */
export const operatorRunCommands = {
  async list(
    client: AgentOsClient,
    tenantId: string,
    status: string | undefined,
    page: AdminPageOptions,
    output: CommandOutput,
  ): Promise<number> {
    const body = await listPages(client, `${tenantPath(tenantId)}/runs`, { status }, page);
    emit(output, body, () => withMore(body, table(runColumns, body.data)));
    return 0;
  },

  async stop(
    client: AgentOsClient,
    tenantId: string,
    selection: { runIds: string[] } | { all: true },
    reason: string,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    const body = 'all' in selection ? { all: true, reason } : { run_ids: selection.runIds, reason };
    const result = await reported(
      where,
      'runs-stop',
      'stop runs',
      async () => {
        const answer = expectStatus<StopResult>(
          await client.request('POST', `${tenantPath(tenantId)}/runs:stop`, { body }),
          200,
        );
        return {
          result: answer,
          detail: `tenant ${tenantId}: ${answer.stopped.length} stopped, ${answer.already_over.length} already over, ${answer.not_found.length} not found`,
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
        };
      },
      output,
    );
    emit(output, result, () =>
      table(
        [
          { title: 'RUN_ID', value: (r: { run_id: string }) => r.run_id },
          { title: 'OUTCOME', value: (r: { outcome: string }) => r.outcome },
        ],
        [
          ...result.stopped.map((runId) => ({ run_id: runId, outcome: 'stopped' })),
          ...result.already_over.map((run) => ({ run_id: run.run_id, outcome: `already ${run.status}` })),
          ...result.not_found.map((runId) => ({ run_id: runId, outcome: 'not found' })),
        ],
      ),
    );
    // Runs named that do not exist are a failed request in part: exit 1 so scripts notice.
    return result.not_found.length === 0 ? 0 : 1;
  },
};

const principalPath = (principalId: string) => `/v1/tenant/principals/${segment(principalId)}`;

/** `agentos principals list|get|put|disable|token|tokens|revoke` (tenant admin). */
export const principalCommands = {
  async list(client: AgentOsClient, page: AdminPageOptions, output: CommandOutput): Promise<number> {
    const body = await listPages(client, '/v1/tenant/principals', {}, page);
    emit(output, body, () =>
      withMore(
        body,
        table(
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
          body.data,
        ),
      ),
    );
    return 0;
  },

  async get(client: AgentOsClient, principalId: string, output: CommandOutput): Promise<number> {
    const principal = expectStatus<Record<string, unknown>>(
      await client.request('GET', principalPath(principalId)),
      200,
    );
    emit(output, principal, () => details(principal));
    return 0;
  },

  async put(
    client: AgentOsClient,
    principalId: string,
    spec: Record<string, unknown>,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    const principal = await reported(
      where,
      'principals-put',
      'put principal',
      async () => {
        const stored = expectStatus<Record<string, unknown>>(
          await client.request('PUT', principalPath(principalId), { body: spec }),
          200,
        );
        return {
          result: stored,
          detail: `principal ${principalId} stored`,
          notes: [`scopes: ${(stored['scopes'] as string[]).join(' ')}`],
        };
      },
      output,
    );
    emit(output, principal, () => `stored principal ${principalId}\n`);
    return 0;
  },

  async disable(
    client: AgentOsClient,
    principalId: string,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    const principal = await reported(
      where,
      'principals-disable',
      'disable principal',
      async () => ({
        result: expectStatus<Record<string, unknown>>(
          await client.request('POST', `${principalPath(principalId)}:disable`),
          200,
        ),
        detail: `principal ${principalId} disabled and its tokens revoked`,
        notes: [],
      }),
      output,
    );
    emit(output, principal, () => `disabled principal ${principalId}; its tokens are refused\n`);
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
    const issued = await reported(
      where,
      'principals-token',
      'issue token',
      async () => {
        const answer = expectStatus<Record<string, unknown> & { token: string }>(
          await client.request('POST', `${principalPath(principalId)}/tokens`, { body: request }),
          201,
        );
        return {
          result: answer,
          detail: `token ${String(answer['token_id'])} issued to ${principalId}`,
          notes: [
            `scopes: ${(answer['scopes'] as string[]).join(' ')}`,
            `expires: ${String(answer['expires_at'])}`,
          ],
        };
      },
      output,
    );
    emit(output, issued, () => `${issued.token}\n`);
    return 0;
  },

  async tokens(
    client: AgentOsClient,
    principalId: string | undefined,
    page: AdminPageOptions,
    output: CommandOutput,
  ): Promise<number> {
    const body = await listPages(client, '/v1/tenant/tokens', { principal: principalId }, page);
    emit(output, body, () =>
      withMore(
        body,
        table(
          [
            { title: 'TOKEN_ID', value: (t: Record<string, unknown>) => t['token_id'] },
            { title: 'PRINCIPAL', value: (t: Record<string, unknown>) => t['principal_id'] },
            { title: 'EXPIRES', value: (t: Record<string, unknown>) => t['expires_at'] },
            { title: 'REVOKED', value: (t: Record<string, unknown>) => t['revoked_at'] },
            {
              title: 'SCOPES',
              value: (t: Record<string, unknown>) => (t['scopes'] as string[]).join(' '),
              max: 60,
            },
          ],
          body.data,
        ),
      ),
    );
    return 0;
  },

  async revoke(
    client: AgentOsClient,
    tokenId: string,
    where: ReportTarget,
    output: CommandOutput,
  ): Promise<number> {
    const token = await reported(
      where,
      'tokens-revoke',
      'revoke token',
      async () => ({
        result: expectStatus<Record<string, unknown>>(
          await client.request('POST', `/v1/tenant/tokens/${segment(tokenId)}:revoke`),
          200,
        ),
        detail: `token ${tokenId} revoked`,
        notes: [],
      }),
      output,
    );
    emit(output, token, () => `revoked token ${tokenId}\n`);
    return 0;
  },
};
