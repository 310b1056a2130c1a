import { AgentOsClient } from '../client/agentos-client.ts';
import { timeThreeStepRun } from '../client/three-step-run.ts';
import { timedCheck } from './checks.ts';
import type { CheckRecord, OperatorReport } from './operator-report.ts';

/** The base URLs of a node's two services, wherever it runs. */
export type NodeEndpoints = { orchestrator: string; modelPolicy: string };

/** Joins a base URL (with or without a trailing slash) and an absolute path. */
export function endpointUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

/** Fetch with a bound: every check ends, even against an endpoint that never answers. */
function fetchWithin(url: string, init: RequestInit = {}, ms = 15_000): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
}

function throwOnFailures(checks: CheckRecord[]): void {
  const failed = checks.filter((check) => check.outcome !== 'ok');
  if (failed.length > 0) throw new Error(failed.map((check) => `${check.name}: ${check.detail}`).join('; '));
}

/**
 * Wire: both services answer their health checks, the tenant sees its entitled models, and (when
 * `activeKid` is given) the Orchestrator publishes the node's JWKS with the key it signs with; with
 * `orchestrator: false`, the Orchestrator's checks are left out.
 * Records each check in `report.health`; throws naming the failed ones.
 */
export async function wireChecks(
  report: OperatorReport,
  endpoints: NodeEndpoints,
  tenantToken: string,
  options: { activeKid?: string; orchestrator?: boolean } = {},
): Promise<string> {
  const healthy = (url: string) => async () => {
    const response = await fetchWithin(url);
    if (!response.ok) throw new Error(`answered ${response.status}`);
    return 'ok';
  };
  // `orchestrator: false`: the Orchestrator cannot be reached from here (behind mutual TLS).
  const orchestrator = options.orchestrator !== false;
  const checks = [
    ...(orchestrator
      ? [await timedCheck('orchestrator health', healthy(endpointUrl(endpoints.orchestrator, '/v1/health')))]
      : []),
    await timedCheck('model policy health', healthy(endpointUrl(endpoints.modelPolicy, '/v1/health'))),
    await timedCheck('model policy lists entitled models', async () => {
      const response = await fetchWithin(endpointUrl(endpoints.modelPolicy, '/v1/models'), {
        headers: { authorization: `Bearer ${tenantToken}` },
      });
      if (!response.ok) throw new Error(`answered ${response.status}`);
      const body = (await response.json()) as { data?: { id?: unknown }[] };
      return (body.data ?? []).map((model) => String(model.id)).join(', ');
    }),
  ];
  if (options.activeKid !== undefined && orchestrator) {
    const kid = options.activeKid;
    checks.push(
      await timedCheck('node JWKS published', async () => {
        const response = await fetchWithin(endpointUrl(endpoints.orchestrator, '/.well-known/jwks.json'));
        if (!response.ok) throw new Error(`answered ${response.status}`);
        const body = (await response.json()) as { keys?: { kid?: unknown }[] };
        const kids = (body.keys ?? []).map((key) => String(key.kid));
        if (!kids.includes(kid)) throw new Error(`lists ${kids.join(', ') || 'no key'}, not the active key ${kid}`);
        return `${kids.length} key(s), active ${kid}`;
      }),
    );
  }
  report.health.push(...checks);
  throwOnFailures(checks);
  return `${checks.length} health checks passed`;
}

/** A policy check: the tenant may call `modelRef` (evaluated without calling a model). */
export async function policyCheck(
  report: OperatorReport,
  endpoints: NodeEndpoints,
  tenantToken: string,
  modelRef: string,
): Promise<string> {
  const check = await timedCheck(`policy allows ${modelRef}`, async () => {
    const response = await fetchWithin(endpointUrl(endpoints.modelPolicy, '/v1/policy/check'), {
      method: 'POST',
      headers: { authorization: `Bearer ${tenantToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model_ref: modelRef, messages: [{ role: 'user', content: 'ping' }] }),
    });
    if (!response.ok) throw new Error(`answered ${response.status}: ${await response.text()}`);
    const body = (await response.json()) as { allowed?: unknown; denial?: unknown };
    if (body.allowed !== true) throw new Error(`denied: ${JSON.stringify(body.denial ?? body)}`);
    return 'allowed';
  });
  report.smoke.push(check);
  throwOnFailures([check]);
  return check.detail;
}

/** Smoke: a three-step run of `agentId` reaches `run.completed` over SSE with gapless sequences. */
export async function smokeRunCheck(
  report: OperatorReport,
  endpoints: NodeEndpoints,
  tenantToken: string,
  agentId: string,
): Promise<string> {
  const client = new AgentOsClient(endpoints.orchestrator.replace(/\/+$/, ''), tenantToken);
  const started = Date.now();
  const check = await timedCheck('three-step run to run.completed over SSE', async () => {
    const run = await timeThreeStepRun(client, agentId, 'smoke');
    const gapless = run.sequences.every((s, i) => s === i + 1);
    if (run.status !== 'completed') throw new Error(`run ${run.runId} ended ${run.status}`);
    if (!gapless) throw new Error(`run ${run.runId} streamed sequences ${run.sequences.join(',')}`);
    return `run ${run.runId}: ${run.eventTypes.length} events, first event ${Math.round(run.firstEventMs)} ms, completed ${Math.round(run.terminalMs)} ms`;
  });
  check.duration_ms = Date.now() - started;
  report.smoke.push(check);
  throwOnFailures([check]);
  return check.detail;
}
