/**
 * Benchmark (a script, not a test): many concurrent SSE clients on one local node. A node process
 * (as `agentos up --local` starts it, on moto) serves a few long runs; the script measures the p95
 * of other requests (GET a run, POST a run) on the idle node, then opens the SSE clients across the
 * runs and measures again while they stream; every client must receive every event of its run,
 * gapless, to `run.completed`. Prints the figures and the node's RSS.
 *
 *   node test/bench/sse-fanout-bench.ts [--clients 1000] [--runs 4] [--steps 12] [--requests 200]
 */
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { startMoto } from '../../cli/local/emulator.ts';
import { rssMb, startNodeProcess } from './local-node-process.ts';
import { summarize } from './percentiles.ts';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '4' },
    steps: { type: 'string', default: '12' },
    requests: { type: 'string', default: '200' },
  },
});
const clients = Number(args.clients);
const runCount = Number(args.runs);
const steps = Number(args.steps);
const requests = Number(args.requests);

process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';

const external = process.env['AGENTOS_AWS_ENDPOINT'];
const emulator = external === undefined ? await startMoto() : undefined;
const node = await startNodeProcess({ endpoint: external ?? emulator!.endpoint, maxSteps: steps + 2 });

async function timed(call: () => Promise<Response>): Promise<number> {
  const started = performance.now();
  const response = await call();
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`answered ${response.status}`);
  return performance.now() - started;
}

/** p95 of `requests` calls of each kind, 8 at a time. */
async function measure(base: string, token: string, runId: string) {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const quick = JSON.stringify({
    agent_id: 'sample-agent',
    input: { messages: [{ role: 'user', content: 'hi' }] },
  });
  const get: number[] = [];
  const post: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < requests) {
        next += 1;
        get.push(await timed(() => fetch(`${base}/v1/runs/${runId}`, { headers })));
        post.push(await timed(() => fetch(`${base}/v1/runs`, { method: 'POST', headers, body: quick })));
      }
    }),
  );
  return { get: summarize(get), post: summarize(post) };
}

/** One SSE client: counts the events of its run until `run.completed` (or the stream ends). */
function follow(
  base: string,
  token: string,
  runId: string,
): Promise<{ sequences: number[]; terminal: boolean }> {
  return new Promise((resolve, reject) => {
    const sequences: number[] = [];
    let terminal = false;
    let buffer = '';
    const req = request(`${base}/v1/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`stream answered ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: (\d+)$/m.exec(frame)?.[1];
          if (id !== undefined) sequences.push(Number(id));
          if (/^event: run\.completed$/m.test(frame)) terminal = true;
          end = buffer.indexOf('\n\n');
        }
      });
      res.on('end', () => resolve({ sequences, terminal }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

try {
  const { base, token } = node;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  // Long runs: a tool call per step, each after a pause, then a reply.
  const turns = [
    ...Array.from({ length: steps }, (_, i) => ({
      tool_calls: [{ name: 'echo', arguments: { text: `step ${i}` } }],
      delay_ms: 1_000,
    })),
    { reply: 'done' },
  ];
  const content = `go\nagentos-script: ${JSON.stringify(turns)}`;
  const quickRun = await fetch(`${base}/v1/runs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      agent_id: 'sample-agent',
      input: { messages: [{ role: 'user', content: 'hi' }] },
    }),
  });
  console.error('measuring the idle node …');
  const idle = await measure(base, token, ((await quickRun.json()) as { run_id: string }).run_id);
  const idleRss = rssMb(node.pid());

  const runIds: string[] = [];
  for (let i = 0; i < runCount; i += 1) {
    const created = await fetch(`${base}/v1/runs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ agent_id: 'sample-agent', input: { messages: [{ role: 'user', content }] } }),
    });
    runIds.push(((await created.json()) as { run_id: string }).run_id);
  }
  console.error(`opening ${clients} streams …`);
  const started = performance.now();
  const streams = Array.from({ length: clients }, (_, i) => follow(base, token, runIds[i % runCount]!));
  await new Promise((r) => setTimeout(r, 2_000));
  const loaded = await measure(base, token, runIds[0]!);
  const loadedRss = rssMb(node.pid());
  console.error('waiting for the streams to end …');
  const results = await Promise.allSettled(streams);
  const streamSeconds = (performance.now() - started) / 1000;
  const failed = results.filter((r) => r.status === 'rejected').length;
  const complete = results.filter(
    (r) =>
      r.status === 'fulfilled' &&
      r.value.terminal &&
      r.value.sequences.every((sequence, index) => sequence === index + 1),
  ).length;
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  console.log(
    `SSE fan-out on a local node (moto): ${clients} clients over ${runCount} runs of ${steps} steps, ${requests} requests per measure`,
  );
  console.log('| measure | idle p50 ms | idle p95 ms | streaming p50 ms | streaming p95 ms | p95 ratio |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  console.log(
    `| GET /v1/runs/{id} | ${idle.get.p50} | ${idle.get.p95} | ${loaded.get.p50} | ${loaded.get.p95} | ${ratio(loaded.get.p95, idle.get.p95)} |`,
  );
  console.log(
    `| POST /v1/runs | ${idle.post.p50} | ${idle.post.p95} | ${loaded.post.p50} | ${loaded.post.p95} | ${ratio(loaded.post.p95, idle.post.p95)} |`,
  );
  console.log(
    `streams: ${complete}/${clients} received every event gapless to run.completed, ${failed} failed, ${clients - complete - failed} incomplete; ${Math.round(streamSeconds)} s`,
  );
  console.log(`node RSS: ${idleRss} MB idle, ${loadedRss} MB with the streams open`);
  if (complete !== clients) process.exitCode = 1;
} finally {
  await node.stop();
  await emulator?.stop();
}
