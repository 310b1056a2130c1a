/**
 * Benchmark (a script, not a test): does one tenant's flood move another tenant's latency? Tenant B
 * creates three-step runs one at a time and follows each over SSE, in three phases per round:
 * - **A quiet**: tenant A sends nothing;
 * - **A at its quota**: A creates runs from one loop paced at its run rate, so it uses its quota and
 *   no more;
 * - **A flooding**: the paced loop goes on and `floodLoops` more loops create runs back to back
 *   (each back as soon as `Retry-After` allows), far past A's quota.
 * The flood's own cost is the move from "at its quota" to "flooding" (HLD §10.2: what A sends past
 * its quota must not slow B); the move from "quiet" shows what A's admitted work costs B when both
 * share this one process and one serialized emulator. Phases alternate, so drift of the machine falls
 * on all three. Prints B's POST → first event and POST → run.completed (p50/p95) per phase, both
 * moves of B's p95, and how A's requests were answered.
 *
 *   node test/bench/noisy-neighbour-bench.ts [rounds=3] [runsPerPhase=10] [floodLoops=16]
 *
 * `NOISY_QUOTAS` (JSON, e.g. `{"runs_per_second":1,"max_concurrent_runs":2}`) sets tenant A's quotas;
 * both tenants have the defaults otherwise. A run of B that does not end within 60 s counts as not
 * completed.
 */
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { threeStepRunInput, timeThreeStepRun } from '../../cli/client/three-step-run.ts';
import type { TimedRun } from '../../cli/client/three-step-run.ts';
import { startMoto } from '../../cli/local/emulator.ts';
import { startLocalNode } from '../../cli/local/local-node.ts';
import { seedTenantCatalog } from '../../cli/local/seed.ts';
import { DynamoTenantDirectory } from '../../functions/shared/tenancy/adapters/dynamo-tenant-directory.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { defaultTenantQuotas, TenantQuotasSchema } from '../../functions/shared/tenancy/tenant-schemas.ts';
import { provisionNode } from '../../infra/local/provision-emulator.ts';
import { createTestAuth } from '../support/test-auth.ts';
import { summarize } from './percentiles.ts';

const rounds = Number(process.argv[2] ?? 3);
const runsPerPhase = Number(process.argv[3] ?? 10);
const floodLoops = Number(process.argv[4] ?? 16);

process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';
process.env['POWERTOOLS_LOG_LEVEL'] = 'ERROR';

const external = process.env['AGENTOS_AWS_ENDPOINT'];
const emulator = external === undefined ? await startMoto() : undefined;
const endpoint = external ?? emulator!.endpoint;
const aws = { region: 'us-east-1', endpoint, maxAttempts: 3 };
const nodeId = `bench-${Date.now().toString(36)}`;
const resources = await provisionNode(nodeId, aws);
const directory = new DynamoTenantDirectory(createDocumentClient(aws), resources.tableName);
const auth = await createTestAuth(`https://agentos.bench/${nodeId}`);
const node = await startLocalNode({
  nodeId,
  host: '127.0.0.1',
  orchestratorPort: 0,
  modelPolicyPort: 0,
  awsEndpoint: endpoint,
  region: aws.region,
  resources,
  jwt: { issuer: auth.issuer, audience: auth.audience, jwks: auth.jwks, serviceSigningKey: auth.signingKey },
  functionEnv: { POWERTOOLS_LOG_LEVEL: 'ERROR' },
});

type FloodCount = { accepted: number; refused: Record<string, number>; other: number; failed: string[] };

/** Counts a 429 under the limit it names. */
function countRefusal(count: FloodCount, body: unknown): void {
  const limit = String((body as { error?: { details?: { limit?: string } } }).error?.details?.limit);
  count.refused[limit] = (count.refused[limit] ?? 0) + 1;
}

/** Tenant A at its quota: one loop creating a run every `intervalMs` until `stop` is set. */
async function paced(
  client: AgentOsClient,
  intervalMs: number,
  count: FloodCount,
  stop: { done: boolean },
): Promise<void> {
  for (let i = 0; !stop.done; i += 1) {
    const started = performance.now();
    try {
      const created = await client.createRun(threeStepRunInput('sample-agent', `paced-${Date.now()}-${i}`));
      if (created.status === 201) count.accepted += 1;
      else if (created.status === 429) countRefusal(count, created.body);
      else count.other += 1;
    } catch (error) {
      count.failed.push(String(error));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (performance.now() - started))));
  }
}

/** Tenant A's flood: `floodLoops` loops creating runs back to back until `stop` is set. */
function flood(client: AgentOsClient, count: FloodCount, stop: { done: boolean }): Promise<unknown> {
  return Promise.all(
    Array.from({ length: floodLoops }, async (_, loop) => {
      for (let i = 0; !stop.done; i += 1) {
        let created: Awaited<ReturnType<AgentOsClient['createRun']>>;
        try {
          created = await client.createRun(threeStepRunInput('sample-agent', `flood-${loop}-${i}`));
        } catch (error) {
          const cause = (error as { cause?: { code?: string; message?: string } }).cause;
          count.failed.push(String(cause?.code ?? cause?.message ?? error));
          continue;
        }
        if (created.status === 201) {
          count.accepted += 1;
        } else if (created.status === 429) {
          countRefusal(count, created.body);
          // The flood comes back as soon as Retry-After allows (a client ignoring it saturates the
          // one-process emulator before it tells anything about the node).
          const seconds = Number(created.headers.get('retry-after') ?? '1');
          await new Promise((r) => setTimeout(r, seconds * 1000));
        } else {
          count.other += 1;
        }
      }
    }),
  );
}

/** B's runs of one phase, one after another. */
async function measure(client: AgentOsClient, label: string): Promise<TimedRun[]> {
  const results: TimedRun[] = [];
  for (let i = 0; i < runsPerPhase; i += 1) {
    try {
      results.push(await timeThreeStepRun(client, 'sample-agent', `${label}-${i}`));
    } catch (error) {
      // Not ended within 60 s (or refused): counted, and kept out of the percentiles.
      results.push({
        runId: '',
        status: `error: ${String(error)}`,
        firstEventMs: -1,
        terminalMs: -1,
        eventTypes: [],
        sequences: [],
      });
    }
  }
  return results;
}

/** Waits until tenant A has no run left queued or running, so a quiet phase is quiet. */
async function drain(client: AgentOsClient): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    const queued = await client.request<{ data?: unknown[] }>('GET', '/v1/runs?status=queued&limit=1');
    const running = await client.request<{ data?: unknown[] }>('GET', '/v1/runs?status=running&limit=1');
    if (i % 20 === 19) {
      process.stderr.write(
        `[noisy] still draining A: queued ${queued.status} ${JSON.stringify(queued.body).slice(0, 200)}, ` +
          `running ${running.status} ${JSON.stringify(running.body).slice(0, 200)}\n`,
      );
    }
    // A refused listing (a busy emulator) is asked again, like a run still going.
    if (
      queued.status === 200 &&
      running.status === 200 &&
      queued.body.data?.length === 0 &&
      running.body.data?.length === 0
    )
      return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error("tenant A's runs did not drain within 5 minutes");
}

try {
  const noisyQuotas = TenantQuotasSchema.partial().parse(JSON.parse(process.env['NOISY_QUOTAS'] ?? '{}'));
  for (const tenant of ['noisy', 'quiet']) {
    await directory.createTenant(
      { tenant_id: tenant, ...(tenant === 'noisy' ? { quotas: noisyQuotas } : {}) },
      { by: 'bench', at: new Date() },
    );
    await seedTenantCatalog({
      aws,
      tableName: resources.tableName,
      tenantId: tenant,
      adminPrincipal: `admin@${tenant}`,
    });
  }
  const scopes = ['runs:write', 'runs:read', 'runs:read:all'];
  // Tokens that outlast the bench (the test default of 10 minutes does not).
  const token = (tenantId: string) =>
    auth.tokens.issue({ tenantId, subject: `user-${tenantId}`, scopes, ttlSeconds: 4 * 3600 });
  const noisy = new AgentOsClient(node.orchestratorUrl, await token('noisy'));
  const quiet = new AgentOsClient(node.orchestratorUrl, await token('quiet'));
  await timeThreeStepRun(quiet, 'sample-agent', 'warmup');
  const quotas = { ...defaultTenantQuotas, ...noisyQuotas };
  const pacedIntervalMs = 1000 / quotas.runs_per_second;
  const phases = { quiet: [] as TimedRun[], steady: [] as TimedRun[], flood: [] as TimedRun[] };
  const pacedCount: FloodCount = { accepted: 0, refused: {}, other: 0, failed: [] };
  const count: FloodCount = { accepted: 0, refused: {}, other: 0, failed: [] };
  const progress = (line: string) => process.stderr.write(`[noisy] ${new Date().toISOString()} ${line}\n`);
  for (let round = 0; round < rounds; round += 1) {
    progress(`round ${round + 1}: A quiet`);
    phases.quiet.push(...(await measure(quiet, `quiet-${round}`)));
    const stop = { done: false };
    const steady = paced(noisy, pacedIntervalMs, pacedCount, stop);
    // Let A's paced runs fill its run slots before B measures.
    await new Promise((r) => setTimeout(r, 2_000));
    progress(`round ${round + 1}: A at its quota`);
    phases.steady.push(...(await measure(quiet, `steady-${round}`)));
    const stopFlood = { done: false };
    const flooding = flood(noisy, count, stopFlood);
    await new Promise((r) => setTimeout(r, 2_000));
    progress(`round ${round + 1}: A flooding`);
    phases.flood.push(...(await measure(quiet, `flooded-${round}`)));
    stopFlood.done = true;
    stop.done = true;
    await Promise.all([flooding, steady]);
    progress(`round ${round + 1}: draining A`);
    await drain(noisy);
  }
  const all = [...phases.quiet, ...phases.steady, ...phases.flood];
  const failed = all.filter((r) => r.status !== 'completed');
  const completed = (runs: TimedRun[]) => runs.filter((r) => r.status === 'completed');
  const row = (name: string, runs: TimedRun[]) => {
    const first = summarize(completed(runs).map((r) => r.firstEventMs));
    const done = summarize(completed(runs).map((r) => r.terminalMs));
    return `| ${name} | ${first.n} | ${first.p50} | ${first.p95} | ${done.p50} | ${done.p95} |`;
  };
  const p95 = (runs: TimedRun[]) => summarize(completed(runs).map((r) => r.firstEventMs)).p95;
  const moved = (from: number, to: number) =>
    `${(((to - from) / from) * 100).toFixed(1)}% (ratio ${(to / from).toFixed(2)})`;
  console.log(
    `noisy neighbour on a local node (moto): ${rounds} rounds × ${runsPerPhase} runs of tenant B per phase, ` +
      `tenant A flooding from ${floodLoops} loops with quotas ${JSON.stringify(noisyQuotas)}; ` +
      `${failed.length} of B's runs not completed`,
  );
  console.log('| tenant B, phase | n | first event p50 ms | p95 ms | completed p50 ms | p95 ms |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  console.log(row('A quiet', phases.quiet));
  console.log(row('A at its quota', phases.steady));
  console.log(row('A flooding past its quota', phases.flood));
  console.log(`A's flood moved B's p95 POST → first event ${moved(p95(phases.steady), p95(phases.flood))}`);
  console.log(
    `A's whole load (quiet → flooding) moved it ${moved(p95(phases.quiet), p95(phases.flood))}; ` +
      `at its quota alone ${moved(p95(phases.quiet), p95(phases.steady))}`,
  );
  console.log(
    `A at its quota: ${pacedCount.accepted} runs accepted, refused ${JSON.stringify(pacedCount.refused)}, ${pacedCount.other} other answers; ` +
      `A's flood: ${count.accepted} runs accepted, refused ${JSON.stringify(count.refused)}, ${count.other} other answers, ` +
      `${count.failed.length + pacedCount.failed.length} requests failed on the wire ` +
      `${JSON.stringify([...new Set([...count.failed, ...pacedCount.failed])])}`,
  );
  if (failed.length > 0) process.exitCode = 1;
} finally {
  await node.stop();
  await emulator?.stop();
}
