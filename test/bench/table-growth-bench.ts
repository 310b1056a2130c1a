/**
 * Benchmark (a script, not a test): does a local node keep its speed as its table grows? Times
 * POST /v1/runs → run.completed for a three-step run on a fresh node, then again after the table
 * holds `seed` more runs, and prints both with their ratio; then times `concurrent` runs started at
 * at once on each table (runs per second), and the first page of GET /v1/runs on each.
 *
 *   node test/bench/table-growth-bench.ts [seed=3000] [samples=10] [concurrent=8] [--profile]
 *
 * Seeding is quick: one real run is made, the items it left in the table are read back, and `seed`
 * copies of them are written under new run ids (new idempotency keys, distinct run-index places), so
 * the table holds what that many real runs leave behind without running them one by one.
 * `--profile` puts a timing proxy between the node and the emulator and prints, per phase, the AWS
 * calls the node made, their count and total time (DynamoDB Query calls per key pattern).
 */
import { createHash } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchWriteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
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

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const seedRuns = Number(args[0] ?? 3000);
const samples = Number(args[1] ?? 10);
const concurrent = Number(args[2] ?? 8);
const profile = process.argv.includes('--profile');

process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';
process.env['POWERTOOLS_LOG_LEVEL'] = 'ERROR';

type Item = Record<string, unknown>;

/** Calls seen by the timing proxy in the current phase: count and total ms per operation. */
let calls = new Map<string, { n: number; ms: number }>();

/** A key pattern: ids, hashes and numbers replaced, so calls on like partitions add up. */
function pattern(pk: unknown): string {
  return typeof pk !== 'string'
    ? '?'
    : pk
        .replace(/\/runs\/[^/]+/, '/runs/{id}')
        .replace(/\/(event-ids|idempotency|records|model-requests|principals)\/[^/]+/, '/$1/{hash}')
        .replace(/\/\d{4}-\d{2}(-\d{2})?/, '/{date}');
}

function operationOf(req: IncomingMessage, body: Buffer): string {
  const target = String(req.headers['x-amz-target'] ?? '');
  if (target === '') return `${req.method ?? '?'} ${req.url ?? '?'}`;
  const operation = target
    .replace(/^DynamoDB_\d+\./, '')
    .replace(/^AmazonSQS\./, 'SQS.')
    .replace(/^AWSStepFunctions\./, 'SFN.');
  if (!target.startsWith('DynamoDB_')) return operation;
  const input = JSON.parse(body.toString('utf8')) as {
    Key?: { pk?: { S?: string } };
    ExpressionAttributeValues?: Record<string, { S?: string }>;
  };
  if (operation === 'Query') return `Query ${pattern(input.ExpressionAttributeValues?.[':pk']?.S)}`;
  if (operation === 'GetItem' || operation === 'UpdateItem')
    return `${operation} ${pattern(input.Key?.pk?.S)}`;
  return operation;
}

/** A proxy to the emulator that times every call (only used with --profile). */
async function startTimingProxy(target: string): Promise<{ endpoint: string; close(): void }> {
  const upstream = new URL(target);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = operationOf(req, body);
      const started = performance.now();
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', () => {
            const seen = calls.get(operation) ?? { n: 0, ms: 0 };
            seen.n += 1;
            seen.ms += performance.now() - started;
            calls.set(operation, seen);
          });
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => server.close(),
  };
}

function printCalls(phase: string, runs: number): void {
  if (!profile) return;
  console.log(`\nAWS calls per run, ${phase} (${runs} runs; ReceiveMessage long polls included)`);
  console.log('| call | per run | ms per call | ms per run |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [operation, seen] of [...calls].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20))
    console.log(
      `| ${operation} | ${(seen.n / runs).toFixed(1)} | ${(seen.ms / seen.n).toFixed(1)} | ${(seen.ms / runs).toFixed(1)} |`,
    );
  calls = new Map();
}

const external = process.env['AGENTOS_AWS_ENDPOINT'];
const emulator = external === undefined ? await startMoto() : undefined;
const endpoint = external ?? emulator!.endpoint;
const proxy = profile ? await startTimingProxy(endpoint) : undefined;
const aws = { region: 'us-east-1', endpoint, maxAttempts: 3 };
const db = createDocumentClient(aws);
const nodeId = `bench-${Date.now().toString(36)}`;
const resources = await provisionNode(nodeId, aws);
const auth = await createTestAuth(`https://agentos.bench/${nodeId}`, undefined, {
  registerTenant: tenantRegistrar(new DynamoTenantDirectory(db, resources.tableName)),
});
const node = await startLocalNode({
  nodeId,
  host: '127.0.0.1',
  orchestratorPort: 0,
  modelPolicyPort: 0,
  awsEndpoint: proxy?.endpoint ?? endpoint,
  region: aws.region,
  resources,
  jwt: { issuer: auth.issuer, audience: auth.audience, jwks: auth.jwks, serviceSigningKey: auth.signingKey },
  functionEnv: { POWERTOOLS_LOG_LEVEL: 'ERROR' },
});

async function scanAll(): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await db.send(
      new ScanCommand({
        TableName: resources.tableName,
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

const keyOf = (item: Item) => `${String(item['pk'])}#${String(item['sk'])}`;

/** The items one run left behind, as a template for seeded copies. */
async function templateRun(client: AgentOsClient): Promise<{ runId: string; items: Item[] }> {
  const before = new Set((await scanAll()).map(keyOf));
  const run = await timeThreeStepRun(client, 'sample-agent', 'template');
  if (run.status !== 'completed') throw new Error(`the template run ended ${run.status}`);
  // Metering lands after the answer; give it a moment so the copies carry it too.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const items = (await scanAll()).filter((item) => !before.has(keyOf(item)));
  return { runId: run.runId, items };
}

/**
 * A copy of one run's items under `runId`: its id replaced everywhere, a per-run key segment
 * that is not the run id (idempotency scope, request hashes) replaced by a fresh hash, and the run's
 * index place moved `offset` ms back so copies never collide in the run index.
 */
function copyOf(template: { runId: string; items: Item[] }, runId: string, offset: number): Item[] {
  const copies: Item[] = [];
  for (const item of template.items) {
    const copy = JSON.parse(JSON.stringify(item).replaceAll(template.runId, runId)) as Item;
    const pk = String(copy['pk']);
    if (copy['kind'] === 'run-index') copy['sk'] = Number(copy['sk']) - offset * 1000;
    else if (copy['kind'] === 'run') copy['index_sk'] = Number(copy['index_sk']) - offset * 1000;
    else if (!pk.includes(runId)) {
      const last = pk.slice(pk.lastIndexOf('/') + 1);
      // A node-wide item that the run happened to create first (a new window, say) is not copied.
      if (!/^[A-Za-z0-9_-]{16,}$/.test(last)) continue;
      const fresh = createHash('sha256').update(`${last}/${runId}`).digest('hex').slice(0, last.length);
      copy['pk'] = `${pk.slice(0, pk.lastIndexOf('/') + 1)}${fresh}`;
    }
    copies.push(copy);
  }
  return copies;
}

async function seed(template: { runId: string; items: Item[] }, count: number): Promise<number> {
  const pending: Item[] = [];
  let written = 0;
  const flush = async (all: boolean) => {
    while (pending.length >= 25 || (all && pending.length > 0)) {
      let batch: Item[] = pending.splice(0, 25).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; batch.length > 0; attempt += 1) {
        if (attempt > 10) throw new Error('seeding: BatchWriteItem kept leaving items unprocessed');
        const result = await db.send(
          new BatchWriteCommand({ RequestItems: { [resources.tableName]: batch } }),
        );
        batch = (result.UnprocessedItems?.[resources.tableName] ?? []) as Item[];
      }
    }
  };
  for (let i = 1; i <= count; i += 1) {
    const copies = copyOf(template, `${template.runId.slice(0, -7)}${String(i).padStart(7, '0')}`, i);
    written += copies.length;
    pending.push(...copies);
    await flush(false);
  }
  await flush(true);
  return written;
}

/** A timed run; one that fails or does not end within the client's minute counts as not completed. */
async function timedRun(client: AgentOsClient, label: string): Promise<TimedRun> {
  const started = performance.now();
  return timeThreeStepRun(client, 'sample-agent', label).catch((error: unknown) => ({
    runId: '',
    status: `failed: ${String(error)}`,
    firstEventMs: Number.NaN,
    terminalMs: performance.now() - started,
    eventTypes: [],
    sequences: [],
  }));
}

async function timeSequential(client: AgentOsClient, label: string): Promise<TimedRun[]> {
  await timedRun(client, `${label}-warmup`);
  calls = new Map();
  const results: TimedRun[] = [];
  for (let i = 0; i < samples; i += 1) results.push(await timedRun(client, `${label}-${i}`));
  return results;
}

async function timeConcurrent(client: AgentOsClient): Promise<{ results: TimedRun[]; perSecond: number }> {
  calls = new Map();
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: concurrent }, (_, i) => timedRun(client, `burst-${i}`)),
  );
  return { results, perSecond: concurrent / ((performance.now() - started) / 1000) };
}

/** GET /v1/runs?limit=20 (the newest page of the tenant's run index), timed `samples` times. */
async function timeListing(token: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    const started = performance.now();
    const answer = await fetch(`${node.orchestratorUrl}/v1/runs?limit=20`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(60_000),
    });
    await answer.arrayBuffer();
    if (answer.status !== 200) throw new Error(`GET /v1/runs answered ${answer.status}`);
    times.push(performance.now() - started);
  }
  return times;
}

let failed: number | undefined;
try {
  await seedTenantCatalog({
    aws,
    tableName: resources.tableName,
    tenantId: 'bench',
    adminPrincipal: 'admin@bench',
  });
  const token = await auth.token('bench');
  const client = new AgentOsClient(node.orchestratorUrl, token);
  const fresh = await timeSequential(client, 'fresh');
  const freshListing = summarize(await timeListing(token));
  printCalls('fresh table', samples);
  const freshBurst = await timeConcurrent(client);
  printCalls(`${concurrent} concurrent runs on the fresh table`, concurrent);
  const template = await templateRun(client);
  if (profile)
    for (const item of template.items)
      console.log(`template item: ${pattern(item['pk'])} ${String(item['kind'])}`);
  const itemsBefore = (await scanAll()).length;
  const seedStarted = performance.now();
  const written = await seed(template, seedRuns);
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  const itemsAfter = itemsBefore + written;
  const grown = await timeSequential(client, 'grown');
  const grownListing = summarize(await timeListing(token));
  printCalls(`after ${seedRuns} more runs`, samples);
  const burst = await timeConcurrent(client);
  printCalls(`${concurrent} concurrent runs on the grown table`, concurrent);
  const all = [...fresh, ...freshBurst.results, ...grown, ...burst.results];
  failed = all.filter((r) => r.status !== 'completed').length;
  const a = summarize(fresh.map((r) => r.terminalMs));
  const b = summarize(grown.map((r) => r.terminalMs));
  const c = summarize(burst.results.map((r) => r.terminalMs));
  const d = summarize(freshBurst.results.map((r) => r.terminalMs));
  console.log(
    `\nthree-step runs on a local node (moto${profile ? ', through the timing proxy' : ''}), POST → run.completed; ` +
      `seeded ${seedRuns} runs of ${written / seedRuns} items each in ${seedSeconds.toFixed(1)} s ` +
      `(table ${itemsBefore} → ${itemsAfter} items); ${failed} runs not completed`,
  );
  console.log('| table | runs | p50 ms | p95 ms | max ms |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  console.log(`| fresh (${itemsBefore} items) | ${a.n} | ${a.p50} | ${a.p95} | ${a.max} |`);
  console.log(`| fresh, ${concurrent} at once | ${d.n} | ${d.p50} | ${d.p95} | ${d.max} |`);
  console.log(`| after ${seedRuns} runs (${itemsAfter} items) | ${b.n} | ${b.p50} | ${b.p95} | ${b.max} |`);
  console.log(`| grown, ${concurrent} at once | ${c.n} | ${c.p50} | ${c.p95} | ${c.max} |`);
  console.log(
    `| GET /v1/runs?limit=20, fresh | ${freshListing.n} | ${freshListing.p50} | ${freshListing.p95} | ${freshListing.max} |`,
  );
  console.log(
    `| GET /v1/runs?limit=20, grown | ${grownListing.n} | ${grownListing.p50} | ${grownListing.p95} | ${grownListing.max} |`,
  );
  console.log(
    `grown / fresh p50: ${(b.p50 / a.p50).toFixed(2)}×; ${concurrent} concurrent runs: ` +
      `${freshBurst.perSecond.toFixed(2)} runs/s fresh, ${burst.perSecond.toFixed(2)} runs/s grown`,
  );
} finally {
  await node.stop();
  proxy?.close();
  await emulator?.stop();
}
if (failed !== 0) process.exitCode = 1;
