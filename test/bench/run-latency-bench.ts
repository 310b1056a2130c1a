/**
 * Benchmark (a script, not a test): POST /v1/runs → first SSE event, and POST → run.completed, for a
 * three-step run on a local node (moto emulator, real HTTP, real SQS polling). Prints p50/p95.
 *
 *   node test/bench/run-latency-bench.ts [runs=30] [concurrency=1]
 */
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { timeThreeStepRun } from '../../cli/client/three-step-run.ts';
import type { TimedRun } from '../../cli/client/three-step-run.ts';
import { startMoto } from '../../cli/local/emulator.ts';
import { startLocalNode } from '../../cli/local/local-node.ts';
import { seedTenantCatalog } from '../../cli/local/seed.ts';
import { provisionNode } from '../../infra/local/provision-emulator.ts';
import { createTestAuth } from '../support/test-auth.ts';
import { tenantRegistrar } from '../support/test-tenants.ts';
import { DynamoTenantDirectory } from '../../functions/shared/tenancy/adapters/dynamo-tenant-directory.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { summarize } from './percentiles.ts';
import { printRunCalls, startAwsCallCounter } from './aws-call-counter.ts';
import { ownCpuMs, processCpuMs } from './process-cpu.ts';
import { threeStepRunInput } from '../../cli/client/three-step-run.ts';
import { DynamoRunStateStore } from '../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';

/** Lets the last run's trailing requests (the queue's batch delete) land before counting. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1500));
}

const runs = Number(process.argv[2] ?? 30);
const concurrency = Number(process.argv[3] ?? 1);

process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';
process.env['POWERTOOLS_LOG_LEVEL'] = 'ERROR';

const external = process.env['AGENTOS_AWS_ENDPOINT'];
const emulator = external === undefined ? await startMoto() : undefined;
const endpoint = external ?? emulator!.endpoint;
const counter = await startAwsCallCounter(endpoint);
const aws = { region: 'us-east-1', endpoint, maxAttempts: 3 };
const nodeId = `bench-${Date.now().toString(36)}`;
const resources = await provisionNode(nodeId, aws);
const auth = await createTestAuth(`https://agentos.bench/${nodeId}`, undefined, {
  registerTenant: tenantRegistrar(new DynamoTenantDirectory(createDocumentClient(aws), resources.tableName)),
});
const node = await startLocalNode({
  nodeId,
  host: '127.0.0.1',
  orchestratorPort: 0,
  modelPolicyPort: 0,
  awsEndpoint: counter.endpoint,
  region: aws.region,
  resources,
  jwt: { issuer: auth.issuer, audience: auth.audience, jwks: auth.jwks, serviceSigningKey: auth.signingKey },
  functionEnv: { POWERTOOLS_LOG_LEVEL: 'ERROR' },
  // The dashboard's own reads would blur the per-run counts.
  dashboardPeriodMs: 3_600_000,
});
try {
  await seedTenantCatalog({
    aws,
    tableName: resources.tableName,
    tenantId: 'bench',
    adminPrincipal: 'admin@bench',
  });
  const client = new AgentOsClient(node.orchestratorUrl, await auth.token('bench'));
  await timeThreeStepRun(client, 'sample-agent', 'warmup');
  await settle();
  counter.take();
  const results: TimedRun[] = [];
  let next = 0;
  const wallStarted = performance.now();
  const emulatorCpuStarted = processCpuMs(emulator?.pid);
  const nodeCpuStarted = ownCpuMs();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < runs) {
        next += 1;
        results.push(await timeThreeStepRun(client, 'sample-agent', `bench-${next}`));
      }
    }),
  );
  const wallSeconds = (performance.now() - wallStarted) / 1000;
  const emulatorCpuEnded = processCpuMs(emulator?.pid);
  const nodeCpuMs = ownCpuMs() - nodeCpuStarted;
  await settle();
  const calls = counter.take();
  const failed = results.filter((r) => r.status !== 'completed');
  const first = summarize(results.map((r) => r.firstEventMs));
  const done = summarize(results.map((r) => r.terminalMs));
  console.log(
    `three-step runs on a local node (moto), ${results.length} runs, concurrency ${concurrency}, ${failed.length} not completed`,
  );
  console.log('| measure | n | p50 ms | p95 ms | max ms |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  console.log(`| POST → first SSE event | ${first.n} | ${first.p50} | ${first.p95} | ${first.max} |`);
  console.log(`| POST → run.completed | ${done.n} | ${done.p50} | ${done.p95} | ${done.max} |`);
  console.log(
    `throughput: ${(results.length / wallSeconds).toFixed(2)} runs/s completed, each followed over SSE (${results.length} runs in ${wallSeconds.toFixed(1)} s)`,
  );
  // Which side bounds the throughput: the emulator runs on one core (Python), so near 100 % of one
  // core it is the limit, and its CPU per run is what a faster emulator path must cut.
  const emulatorCpu =
    emulatorCpuStarted === undefined || emulatorCpuEnded === undefined
      ? 'not measured (an external emulator, or no /proc)'
      : `${((emulatorCpuEnded - emulatorCpuStarted) / results.length).toFixed(1)} ms per run (${(((emulatorCpuEnded - emulatorCpuStarted) / 1000 / wallSeconds) * 100).toFixed(0)} % of one core)`;
  console.log(
    `CPU: emulator ${emulatorCpu}; this process (the node and its clients) ${(nodeCpuMs / results.length).toFixed(1)} ms per run (${((nodeCpuMs / 1000 / wallSeconds) * 100).toFixed(0)} % of one core)`,
  );
  printRunCalls(calls, results.length);
  // The same runs with nobody following them: each is watched from the emulator directly, past the
  // counter, so what is counted is the run's own requests; the difference is one SSE follower's.
  const direct = new DynamoRunStateStore(createDocumentClient(aws), resources.tableName);
  const reader: AuthContext = {
    tenant_id: 'bench',
    principal: { id: 'bench', type: 'service' },
    scopes: [],
    policy_context: {},
  };
  let unfinished = 0;
  for (let i = 1; i <= runs; i += 1) {
    const created = await client.createRun(
      threeStepRunInput('sample-agent', `alone-${i}`),
      `alone-${i}-${crypto.randomUUID()}`,
    );
    if (created.status !== 201) throw new Error(`POST /v1/runs answered ${created.status}`);
    const deadline = Date.now() + 60_000;
    let status = await direct.getRunStatus(reader, created.body.run_id);
    while (status !== 'completed' && status !== 'failed' && status !== 'canceled' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = await direct.getRunStatus(reader, created.body.run_id);
    }
    if (status !== 'completed') unfinished += 1;
  }
  await settle();
  console.log(
    `\nThe same three-step runs with no SSE follower (${runs} runs, ${unfinished} not completed): the run's own requests`,
  );
  printRunCalls(counter.take(), runs, { compare: false });
  if (failed.length > 0 || unfinished > 0) process.exitCode = 1;
} finally {
  await node.stop();
  await counter.close();
  await emulator?.stop();
}
