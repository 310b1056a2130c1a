/**
 * Fault injection (a script, not a test): runs on a local node in its own process, on its own moto,
 * through four faults, and checks that every run ends `completed` or `failed` with a reason, none is
 * lost, none has a duplicated or missing event, none is stuck.
 *
 *   1. pause: the emulator is stopped (SIGSTOP) for a few seconds mid-run, then resumed;
 *   2. node kill: the node process is killed (SIGKILL) mid-run and started again;
 *   3. both: the node is killed while the emulator is paused, then both come back;
 *   4. emulator kill: the emulator dies; the node must stay up and answer 503 fast (its data went
 *      with the in-memory emulator, so no run can survive this one; it is reported, not counted).
 *
 *   node test/bench/fault-injection.ts [--runs 10] [--pause-seconds 6] [--wait-seconds 240]
 */
import { parseArgs } from 'node:util';
import { startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';
import { isAlive } from '../../cli/local/processes.ts';
import { startNodeProcess, scriptedRun } from './local-node-process.ts';
import type { NodeProcess } from './local-node-process.ts';
import { summarize } from './percentiles.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    'pause-seconds': { type: 'string', default: '6' },
    'wait-seconds': { type: 'string', default: '240' },
  },
});
const runsPerPhase = Number(args.runs);
const pauseMs = Number(args['pause-seconds']) * 1000;
const waitMs = Number(args['wait-seconds']) * 1000;

process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';

type RunView = { run_id: string; status: string; error: { code: string; message: string } | null };
type EventView = { event_id: string; sequence: number; type: string };
type Verdict = {
  phase: string;
  runs: number;
  completed: number;
  failed: Record<string, number>;
  lost: number;
  stuck: number;
  badLogs: number;
  endSeconds: number[];
  /** Polls the node did not answer (it was restarting). */
  unanswered: string[];
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api<T>(
  node: NodeProcess,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; json: T }> {
  const response = await fetch(`${node.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${node.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { status: response.status, json: (text === '' ? undefined : JSON.parse(text)) as T };
}

/** Creates runs of `steps` tool steps, each after `delayMs`, then a reply; retries a refused create. */
async function createRuns(
  node: NodeProcess,
  count: number,
  steps: number,
  delayMs: number,
): Promise<string[]> {
  const turns = [
    ...Array.from({ length: steps }, (_, i) => ({
      tool_calls: [{ name: 'echo', arguments: { text: `step ${i}` } }],
      delay_ms: delayMs,
    })),
    { reply: 'done' },
  ];
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const created = await api<{ run_id: string }>(node, 'POST', '/v1/runs', scriptedRun(turns));
    if (created.status !== 201) throw new Error(`creating a run answered ${created.status}`);
    ids.push(created.json.run_id);
  }
  return ids;
}

/** Waits for every run to end, then checks each run's status and its whole event log. */
async function judge(node: NodeProcess, phase: string, ids: string[], startedAt: number): Promise<Verdict> {
  const verdict: Verdict = {
    phase,
    runs: ids.length,
    completed: 0,
    failed: {},
    lost: 0,
    stuck: 0,
    badLogs: 0,
    endSeconds: [],
    unanswered: [],
  };
  const pending = new Set(ids);
  const views = new Map<string, RunView>();
  const deadline = Date.now() + waitMs;
  while (pending.size > 0 && Date.now() < deadline) {
    for (const id of [...pending]) {
      const answer = await api<RunView>(node, 'GET', `/v1/runs/${id}`).catch((error: unknown) => {
        // The node is still coming back: count it and ask again on the next round.
        verdict.unanswered.push(String(error));
        return undefined;
      });
      if (answer === undefined || answer.status >= 500) continue;
      if (answer.status === 404) {
        pending.delete(id);
        verdict.lost += 1;
        continue;
      }
      views.set(id, answer.json);
      if (['completed', 'failed', 'canceled'].includes(answer.json.status)) {
        pending.delete(id);
        verdict.endSeconds.push((Date.now() - startedAt) / 1000);
      }
    }
    if (pending.size > 0) await sleep(500);
  }
  verdict.stuck = pending.size;
  for (const [id, run] of views) {
    if (pending.has(id)) continue;
    if (run.status === 'completed') verdict.completed += 1;
    else {
      const reason = run.error?.code ?? 'no reason';
      verdict.failed[reason] = (verdict.failed[reason] ?? 0) + 1;
    }
    const log = await api<{ data: EventView[] }>(node, 'GET', `/v1/runs/${id}/events?limit=1000`);
    const sequences = log.json.data.map((event) => event.sequence);
    const unique = new Set(log.json.data.map((event) => event.event_id)).size;
    const terminals = log.json.data.filter((event) =>
      /^run\.(completed|failed|canceled)$/.test(event.type),
    ).length;
    const gapless = sequences.every((sequence, index) => sequence === index + 1);
    if (!gapless || unique !== sequences.length || terminals !== 1) verdict.badLogs += 1;
  }
  return verdict;
}

const external = process.env['AGENTOS_AWS_ENDPOINT'];
if (external !== undefined) throw new Error('fault injection needs its own moto: unset AGENTOS_AWS_ENDPOINT');
let emulator: EmulatorHandle = await startMoto();
const node = await startNodeProcess({ endpoint: emulator.endpoint, maxSteps: 10 });
const pid = () => emulator.pid!;
const verdicts: Verdict[] = [];
const notes: string[] = [];
try {
  // 1. The emulator pauses mid-run.
  let started = Date.now();
  let ids = await createRuns(node, runsPerPhase, 3, 500);
  await sleep(1_000);
  process.kill(pid(), 'SIGSTOP');
  const pausedProbe = Date.now();
  const duringPause = await api(node, 'GET', `/v1/runs/${ids[0]}`).catch((error: unknown) => ({
    status: String(error),
  }));
  notes.push(
    `while paused, GET /v1/runs/{id} answered ${duringPause.status} in ${Date.now() - pausedProbe} ms`,
  );
  await sleep(Math.max(0, pauseMs - (Date.now() - pausedProbe)));
  process.kill(pid(), 'SIGCONT');
  verdicts.push(await judge(node, 'emulator paused', ids, started));

  // 2. The node dies mid-run and starts again.
  started = Date.now();
  ids = await createRuns(node, runsPerPhase, 4, 1_000);
  await sleep(2_500);
  await node.kill();
  await node.restart();
  verdicts.push(await judge(node, 'node killed', ids, started));

  // 3. The node dies while the emulator is paused; both come back.
  started = Date.now();
  ids = await createRuns(node, runsPerPhase, 4, 1_000);
  await sleep(1_500);
  process.kill(pid(), 'SIGSTOP');
  await node.kill();
  await sleep(2_000);
  process.kill(pid(), 'SIGCONT');
  await node.restart();
  verdicts.push(await judge(node, 'node killed, emulator paused', ids, started));

  // 4. The emulator dies: the node must stay up and fail fast.
  ids = await createRuns(node, 1, 4, 1_000);
  await emulator.stop();
  const probe = Date.now();
  const down = await api<{ error?: { code: string } }>(node, 'GET', `/v1/runs/${ids[0]}`);
  const ready = await api(node, 'GET', '/v1/health/ready');
  notes.push(
    `emulator killed: GET /v1/runs/{id} answered ${down.status} ${down.json.error?.code ?? ''} and /v1/health/ready ${ready.status} within ${Date.now() - probe} ms; node process alive: ${isAlive(node.pid())}`,
  );
  emulator = await startMoto();
} finally {
  await node.stop();
  await emulator.stop();
}

console.log(
  `fault injection on a local node (moto): ${runsPerPhase} runs per phase, pause ${pauseMs / 1000} s`,
);
console.log(
  '| phase | runs | completed | failed (reason) | lost | stuck | bad event logs | ended after p50 / max s |',
);
console.log('| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |');
for (const v of verdicts) {
  const failed =
    Object.entries(v.failed)
      .map(([reason, count]) => `${count} ${reason}`)
      .join(', ') || '0';
  const ended =
    v.endSeconds.length === 0 ? '-' : `${summarize(v.endSeconds).p50} / ${summarize(v.endSeconds).max}`;
  console.log(
    `| ${v.phase} | ${v.runs} | ${v.completed} | ${failed} | ${v.lost} | ${v.stuck} | ${v.badLogs} | ${ended} |`,
  );
}
for (const note of notes) console.log(`- ${note}`);
const broken = verdicts.some(
  (v) => v.lost > 0 || v.stuck > 0 || v.badLogs > 0 || Object.keys(v.failed).includes('no reason'),
);
console.log(
  broken
    ? 'FAILED: a run was lost, stuck, or has a broken log'
    : 'every run ended completed or failed with a reason; none lost, duplicated or stuck',
);
if (broken) process.exitCode = 1;
