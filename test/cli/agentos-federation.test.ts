import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseSse } from '../../cli/client/sse-client.ts';
import { threeStepRunInput } from '../../cli/client/three-step-run.ts';
import type { LocalState } from '../../cli/local/local-state.ts';
import { localTokenIssuer } from '../../cli/local/local-tokens.ts';
import { isAlive } from '../../cli/local/processes.ts';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';

/**
 * Federation as an operator sets it up (docs/federation.md): `agentos up --local` brings up two
 * nodes, each with its own emulator, stack and keys; `agentos peers add --discover` trusts each from
 * the other; a client of A creates a run on A with B as its `target`, A forwards it, and the run is
 * followed to its end on A's own stream (B replicates its events into A) and on B's events URL.
 */
const run = promisify(execFile);
const cli = new URL('../../cli/bin/agentos.ts', import.meta.url).pathname;
const suffix = Date.now().toString(36);
const ids = { a: `fed-a-${suffix}`, b: `fed-b-${suffix}` };
let stateDir: string;
let reportsDir: string;
const ports: Record<'a' | 'b', number> = { a: 0, b: 0 };

async function agentos(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AGENTOS_STATE_DIR: stateDir,
    AGENTOS_REPORTS_DIR: reportsDir,
  };
  // A fresh shell: no AWS credentials, and each node its own emulator unless the run uses an external one.
  delete env['AWS_ACCESS_KEY_ID'];
  delete env['AWS_SECRET_ACCESS_KEY'];
  if (!inject('externalEmulator')) {
    delete env['AGENTOS_AWS_ENDPOINT'];
    delete env['AWS_ENDPOINT_URL'];
  }
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { env, timeout: 170_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? 1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

function portsFree(base: number, count: number): Promise<boolean> {
  const one = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  return Promise.all(Array.from({ length: count }, (_, i) => one(base + i))).then((all) =>
    all.every(Boolean),
  );
}

async function stateOf(id: string): Promise<LocalState> {
  return JSON.parse(await readFile(join(stateDir, id, 'state.json'), 'utf8')) as LocalState;
}

/** A node's state, or nothing when `up` never wrote one. */
async function stateIfUp(id: string): Promise<LocalState | undefined> {
  try {
    return await stateOf(id);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'agentos-state-'));
  reportsDir = await mkdtemp(join(tmpdir(), 'agentos-reports-'));
  for (const side of ['a', 'b'] as const) {
    do {
      // Below Linux's ephemeral range, as agentos-local-lifecycle.test.ts explains.
      ports[side] = 20_000 + Math.floor(Math.random() * 12_000);
    } while (Math.abs(ports.a - ports.b) < 3 || !(await portsFree(ports[side], 3)));
  }
});

afterAll(async () => {
  const states = await Promise.all([ids.a, ids.b].map((id) => stateIfUp(id)));
  await Promise.all([ids.a, ids.b].map((id) => agentos('nuke', '--local', '--yes', '--node-id', id)));
  await rm(stateDir, { recursive: true, force: true });
  await rm(reportsDir, { recursive: true, force: true });
  const left = states.flatMap((state) =>
    state === undefined ? [] : [state.node.pid, state.emulator.pid, state.alerts?.pid].filter(isAlive),
  );
  // nuke stops them; one still up would outlive the test run.
  for (const pid of left) if (typeof pid === 'number') process.kill(pid, 'SIGKILL');
});

describe('agentos up ×2, peers add --discover both ways, forward, stream', { timeout: 300_000 }, () => {
  it('returns a run created on A for B, streamed to its end from A and from B across a disconnect, the same events', async () => {
    const started = Date.now();
    const ups = await Promise.all(
      (['a', 'b'] as const).map((side) =>
        agentos('up', '--local', '--node-id', ids[side], '--port-base', String(ports[side])),
      ),
    );
    for (const up of ups) expect(up.code, `agentos up failed:\n${up.stdout}\n${up.stderr}`).toBe(0);
    const upMs = Date.now() - started;
    const url = (side: 'a' | 'b') => `http://127.0.0.1:${ports[side]}`;

    for (const [on, peer] of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      const added = await agentos(
        'peers',
        'add',
        ids[peer],
        '--url',
        url(peer),
        '--discover',
        '--tenant-map',
        'default',
        '--local',
        '--node-id',
        ids[on],
      );
      expect(added.stdout).toBe(
        `trusted peer ${ids[peer]} for 1 tenant(s); its tokens are verified with ${url(peer)}/.well-known/jwks.json\n`,
      );
    }

    // A client of A, with a token of A's tenant, creates the run on A with B as its target.
    const a = await stateOf(ids.a);
    const token = await (
      await localTokenIssuer(a)
    ).issue({
      tenantId: 'default',
      subject: 'admin@default',
      scopes: [...defaultTenantScopes],
      ttlSeconds: 600,
    });
    const created = await fetch(`${url('a')}/v1/runs`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'idempotency-key': `client-${suffix}`,
      },
      body: JSON.stringify({ ...threeStepRunInput('sample-agent', 'federated'), target: { peer_id: ids.b } }),
    });
    expect(created.status).toBe(201);
    const forwarded = (await created.json()) as {
      run_id: string;
      events_url: string;
      federation: { node_id: string; remote_run_id: string };
    };
    expect(forwarded.federation).toMatchObject({ node_id: ids.b });
    expect(forwarded.events_url.startsWith(`${url('a')}/v1/runs/${forwarded.run_id}/events?`)).toBe(true);

    /** Follows `eventsUrl`, dropping the connection after three events and resuming after them. */
    const follow = async (eventsUrl: string) => {
      const seen: { id: number; type: string }[] = [];
      for (const lastEventId of [undefined, 3]) {
        const controller = new AbortController();
        const response = await fetch(eventsUrl, {
          headers: {
            accept: 'text/event-stream',
            ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }),
          },
          signal: AbortSignal.any([controller.signal, AbortSignal.timeout(60_000)]),
        });
        expect(response.status).toBe(200);
        for await (const frame of parseSse(response.body!)) {
          if (frame.kind !== 'event') continue;
          seen.push({ id: Number(frame.id), type: frame.event });
          if (lastEventId === undefined && seen.length === 3) {
            controller.abort();
            break;
          }
        }
      }
      return seen;
    };
    // A's own stream serves the events B replicates into it.
    const seen = await follow(forwarded.events_url);
    // The same run on B, read with B's tenant token, streams the same events.
    const b = await stateOf(ids.b);
    const onB = await fetch(`${url('b')}/v1/runs/${forwarded.federation.remote_run_id}`, {
      headers: {
        authorization: `Bearer ${await (
          await localTokenIssuer(b)
        ).issue({
          tenantId: 'default',
          subject: 'admin@default',
          scopes: [...defaultTenantScopes, scopes.runsReadAll],
          ttlSeconds: 600,
        })}`,
      },
    });
    expect(onB.status).toBe(200);
    expect(await follow(((await onB.json()) as { events_url: string }).events_url)).toEqual(seen);
    expect(seen.map((event) => event.id)).toEqual(seen.map((_, i) => i + 1));
    expect(seen.at(-1)?.type).toBe('run.completed');
    console.info(`two local nodes up in ${upMs} ms; federated run streamed by ${Date.now() - started} ms`);
  });
});
