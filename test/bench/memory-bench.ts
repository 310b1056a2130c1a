/**
 * Benchmark (a script, not a test): the resident memory of a local node process over many runs.
 * Every in-process cache is bounded by count, size and age, so RSS should level off rather than
 * grow with the number of runs. Prints RSS after each batch.
 *
 *   node test/bench/memory-bench.ts [--runs 1200] [--batch 200] [--concurrency 8]
 */
import { parseArgs } from 'node:util';
import { startMoto } from '../../cli/local/emulator.ts';
import { rssMb, scriptedRun, startNodeProcess } from './local-node-process.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '1200' },
    batch: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
  },
});
const total = Number(args.runs);
const batch = Number(args.batch);
const concurrency = Number(args.concurrency);

process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';

const external = process.env['AGENTOS_AWS_ENDPOINT'];
const emulator = external === undefined ? await startMoto() : undefined;
const node = await startNodeProcess({ endpoint: external ?? emulator!.endpoint, maxSteps: 4 });
const body = scriptedRun([
  { tool_calls: [{ name: 'echo', arguments: { text: 'x'.repeat(2_000) } }] },
  { reply: 'done' },
]);
const headers = { authorization: `Bearer ${node.token}`, 'content-type': 'application/json' };

/** Creates `count` runs and waits until each has ended. */
async function runBatch(count: number): Promise<number> {
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        const created = await fetch(`${node.base}/v1/runs`, { method: 'POST', headers, body });
        const { run_id: runId } = (await created.json()) as { run_id: string };
        for (let polls = 0; polls < 600; polls += 1) {
          const run = (await (await fetch(`${node.base}/v1/runs/${runId}`, { headers })).json()) as {
            status: string;
          };
          if (run.status === 'completed') break;
          if (run.status === 'failed' || run.status === 'canceled') {
            failed += 1;
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }),
  );
  return failed;
}

try {
  console.log(`local node RSS over ${total} two-step runs (concurrency ${concurrency})`);
  console.log('| runs | RSS MB | failed |');
  console.log('| ---: | ---: | ---: |');
  console.log(`| 0 | ${rssMb(node.pid())} | 0 |`);
  for (let done = 0; done < total; done += batch) {
    const failed = await runBatch(Math.min(batch, total - done));
    console.log(`| ${Math.min(done + batch, total)} | ${rssMb(node.pid())} | ${failed} |`);
  }
} finally {
  await node.stop();
  await emulator?.stop();
}
