/**
 * Cost model (a script, not a test): list-price dollars per 1,000 runs of three and of twenty steps
 * on a local node (moto emulator, real HTTP, real SQS polling), model tokens left out. The AWS
 * requests are counted by a proxy in front of the emulator and priced from their bodies (DynamoDB
 * request units from the items written and read, transactions twice); Lambda time, API Gateway
 * requests, X-Ray traces and log bytes are estimated from what the runs did (see the notes printed
 * under the table). A twenty-step run should cost about 20/3 of a three-step one: nothing a commit
 * writes grows with the run's length.
 *
 *   node test/bench/run-cost-bench.ts [runs per length=3]
 */
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { startMoto } from '../../cli/local/emulator.ts';
import { startLocalNode } from '../../cli/local/local-node.ts';
import { sampleAgent, seedTenantCatalog } from '../../cli/local/seed.ts';
import { provisionNode } from '../../infra/local/provision-emulator.ts';
import { functionDefinitions } from '../../infra/resources/definitions.ts';
import { createTestAuth } from '../support/test-auth.ts';
import { tenantRegistrar } from '../support/test-tenants.ts';
import { DynamoTenantDirectory } from '../../functions/shared/tenancy/adapters/dynamo-tenant-directory.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { countByAction, keyShape, pollerActions, startAwsCallCounter } from './aws-call-counter.ts';
import type { SeenCall } from './aws-call-counter.ts';
import { dynamoUnits, listPrices, runCost } from './aws-cost-model.ts';
import type { RunUsage } from './aws-cost-model.ts';

const runsPerLength = Number(process.argv[2] ?? 3);
/** X-Ray's default rule records the first request each second and 5% of the rest: at a few runs a second, nearly all. */
const xraySampled = Number(process.env['AGENTOS_BENCH_XRAY_RATE'] ?? 1);

process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';

/** Counts (and holds back) what the node writes to stdout and stderr: its logs, as Lambda would ship them. */
const logs = { bytes: 0, quiet: true };
const writeOut = process.stdout.write.bind(process.stdout);
const writeErr = process.stderr.write.bind(process.stderr);
for (const [stream, write] of [
  [process.stdout, writeOut],
  [process.stderr, writeErr],
] as const) {
  stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (!logs.quiet) return write(chunk, ...rest);
    logs.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    return true;
  }) as typeof stream.write;
}

function runInput(steps: number, label: string) {
  const script = [
    ...Array.from({ length: steps - 1 }, (_, i) => ({
      tool_calls: [{ name: 'echo', arguments: { text: `${label} ${i + 1}` } }],
    })),
    { reply: `${label} done` },
  ];
  return {
    agent_id: 'sample-agent',
    input: {
      messages: [
        // Inputs of one size whatever the step count, so the two lengths differ only in steps.
        {
          role: 'user' as const,
          content: `Run the ${label} check.\nagentos-script: ${JSON.stringify(script)}`.padEnd(3000),
        },
      ],
    },
  };
}

/** Creates a run, follows its stream to the end and reads it: the three API requests of a client. */
async function oneRun(client: AgentOsClient, steps: number, label: string): Promise<number> {
  const started = performance.now();
  const created = await client.createRun(runInput(steps, label), `${label}-${crypto.randomUUID()}`);
  if (created.status !== 201) throw new Error(`POST /v1/runs answered ${created.status}`);
  for await (const frame of client.streamEvents(created.body.run_id, {
    signal: AbortSignal.timeout(120_000),
  })) {
    if (frame.kind === 'event' && ['run.completed', 'run.failed', 'run.canceled'].includes(frame.event))
      break;
  }
  const final = await client.getRun(created.body.run_id);
  if (final.body.status !== 'completed') throw new Error(`a ${steps}-step run ended ${final.body.status}`);
  return performance.now() - started;
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1500));
}

const emulator = await startMoto();
const counter = await startAwsCallCounter(emulator.endpoint);
const aws = { region: 'us-east-1', endpoint: emulator.endpoint, maxAttempts: 3 };
const nodeId = `cost-${Date.now().toString(36)}`;
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
  // Logs at the level a deployed node runs at, so their bytes are what CloudWatch would ingest.
  functionEnv: { POWERTOOLS_LOG_LEVEL: 'INFO' },
  dashboardPeriodMs: 3_600_000,
});

/** A send to the node's deadline queue (a run's deadline, at most 15 minutes away). */
function isQueuedDeadline(call: SeenCall): boolean {
  if (call.action !== 'SQS.SendMessage') return false;
  const queueUrl = (call.body as { QueueUrl?: unknown } | undefined)?.QueueUrl;
  const queueName = resources.deadlineQueueUrl.split('/').pop();
  return typeof queueUrl === 'string' && queueName !== undefined && queueUrl.endsWith(`/${queueName}`);
}

type Measured = { steps: number; usage: RunUsage; calls: Map<string, number>; writes: Map<string, number> };

function usageOf(steps: number, calls: SeenCall[], wallMs: number, logBytes: number, runs: number): RunUsage {
  const per = (n: number) => n / runs;
  const counted = calls.filter((call) => !pollerActions.has(call.action));
  const { writeUnits, readUnits } = dynamoUnits(counted);
  const startExecutions = counted.filter((c) => c.action === 'SFN.StartExecution').length;
  const queuedDeadlines = counted.filter(isQueuedDeadline).length;
  const sqs = counted.filter((c) => c.action.startsWith('SQS.')).length;
  // Messages the step queue's event source mapping receives (the deadline sends are counted apart).
  const stepMessages = counted.filter((c) => c.action === 'SQS.SendMessage').length - queuedDeadlines;
  const seconds = per(wallMs) / 1000;
  const gb = (name: keyof typeof functionDefinitions) => functionDefinitions[name].memoryMb / 1024;
  // A deadline fires once the run's timeout passes, and one step worker invocation finds the run
  // over. Through the state machine: three state transitions, then a send, receive and delete on the
  // step queue. Through the deadline queue: the send (already among the counted SQS requests), then
  // the event source mapping's receive and the delete.
  const sfnDeadlines = per(startExecutions);
  const deadlines = sfnDeadlines + per(queuedDeadlines);
  return {
    // The client's POST, stream and GET, and each step's call to the Model Policy's API.
    apiRequests: 3 + steps,
    // The API function twice, the events function once, the step worker per step message (the steps
    // a worker chains after one share its invocation) and per deadline, the Model Policy per step.
    lambdaInvocations: 3 + per(stepMessages) + deadlines + steps,
    // Upper bounds from wall time (the emulator is slower than DynamoDB): the step worker busy for the
    // whole run, the events function streaming it, each API request and model call ~100 ms.
    lambdaGbSeconds:
      seconds * gb('stepWorker') +
      seconds * gb('orchestratorEvents') +
      0.2 * gb('orchestratorApi') +
      0.1 * steps * gb('modelPolicyApi'),
    writeUnits: per(writeUnits),
    readUnits: per(readUnits),
    // Every step message is received once by the event source mapping.
    sqsRequests: per(sqs + stepMessages) + 3 * sfnDeadlines + 2 * per(queuedDeadlines),
    // WaitForDeadline, NotifyStepWorker, and the end.
    stateTransitions: 3 * sfnDeadlines,
    // One trace per client request and per deadline (the steps and model calls join them).
    tracesRecorded: (3 + deadlines) * xraySampled,
    // The node's own log lines, and a deadline execution's history (every event, ~300 bytes each).
    logBytes: per(logBytes) + sfnDeadlines * 5 * 300,
  };
}

try {
  await seedTenantCatalog({
    aws,
    tableName: resources.tableName,
    tenantId: 'bench',
    adminPrincipal: 'admin@bench',
    agent: { ...sampleAgent, max_steps: 25 },
  });
  const client = new AgentOsClient(node.orchestratorUrl, await auth.token('bench'));
  await oneRun(client, 3, 'warmup');
  const measured: Measured[] = [];
  for (const steps of [3, 20]) {
    await settle();
    counter.take();
    logs.bytes = 0;
    let wallMs = 0;
    for (let i = 0; i < runsPerLength; i += 1) wallMs += await oneRun(client, steps, `cost-${steps}-${i}`);
    await settle();
    const calls = counter.take();
    const writes = new Map<string, number>();
    dynamoUnits(
      calls.filter((c) => !pollerActions.has(c.action)),
      writes,
      keyShape,
    );
    const perRun = new Map(
      [...countByAction(calls.filter((c) => !pollerActions.has(c.action)))].map(([a, n]) => [
        a,
        n / runsPerLength,
      ]),
    );
    measured.push({
      steps,
      usage: usageOf(steps, calls, wallMs, logs.bytes, runsPerLength),
      calls: perRun,
      writes,
    });
  }
  logs.quiet = false;
  const [three, twenty] = measured as [Measured, Measured];
  const costs = measured.map((m) => runCost(m.usage));
  const per1000 = (usd: number) => `$${(usd * 1000).toFixed(4)}`;
  console.log(
    `list-price cost per 1,000 runs on AWS (us-east-1), model tokens left out; ${runsPerLength} runs of each length`,
  );
  console.log('| line | 3-step run | 20-step run |');
  console.log('| --- | ---: | ---: |');
  for (const line of Object.keys(costs[0]!))
    console.log(`| ${line} | ${per1000(costs[0]![line]!)} | ${per1000(costs[1]![line]!)} |`);
  const totals = costs.map((c) => Object.values(c).reduce((a, b) => a + b, 0));
  console.log(`| **total** | **${per1000(totals[0]!)}** | **${per1000(totals[1]!)}** |`);
  console.log(
    `\n20-step / 3-step cost: ${(totals[1]! / totals[0]!).toFixed(2)} (linear would be ${(20 / 3).toFixed(2)}); DynamoDB write units per run ${three.usage.writeUnits.toFixed(0)} → ${twenty.usage.writeUnits.toFixed(0)} (${(twenty.usage.writeUnits / three.usage.writeUnits).toFixed(2)}×)`,
  );
  const perStep = (totals[1]! - totals[0]!) / 17;
  console.log(
    `steps 4 to 20 add ${per1000(perStep)} each per 1,000 runs; a 20-step run costs ${per1000(totals[0]! + 17 * perStep)} = the 3-step run plus 17 steps, at most 20/3 of it (${per1000((totals[0]! * 20) / 3)}) because a run's fixed costs (creation, stream, deadline) are paid once`,
  );
  console.log('\nusage per run | 3-step | 20-step');
  for (const key of Object.keys(three.usage) as (keyof RunUsage)[])
    console.log(`${key} | ${three.usage[key].toFixed(2)} | ${twenty.usage[key].toFixed(2)}`);
  console.log('\nAWS requests per run | 3-step | 20-step');
  for (const action of new Set([...three.calls.keys(), ...twenty.calls.keys()]))
    console.log(
      `${action} | ${(three.calls.get(action) ?? 0).toFixed(1)} | ${(twenty.calls.get(action) ?? 0).toFixed(1)}`,
    );
  console.log('\nDynamoDB write units per run, by item written | 3-step | 20-step');
  for (const [shape, units] of [...three.writes].sort((a, b) => b[1] - a[1]))
    console.log(
      `${shape} | ${(units / runsPerLength).toFixed(1)} | ${((twenty.writes.get(shape) ?? 0) / runsPerLength).toFixed(1)}`,
    );
  console.log(
    `\nprices: ${JSON.stringify(listPrices)}\nX-Ray sampled share ${xraySampled} (AGENTOS_BENCH_XRAY_RATE); Lambda GB-s are wall-time upper bounds on the emulator.`,
  );
} finally {
  logs.quiet = false;
  await node.stop();
  await counter.close();
  await emulator.stop();
}
