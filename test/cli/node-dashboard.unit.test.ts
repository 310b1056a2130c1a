import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { dashboardPaths } from '../../cli/local/dashboard/dashboard-page.ts';
import { dashboardRequest, NodeDashboard } from '../../cli/local/dashboard/node-dashboard.ts';
import type { DashboardSources } from '../../cli/local/dashboard/node-dashboard.ts';
import { LocalTenantTop } from '../../functions/shared/observability/local-tenant-top.ts';
import { ManualClock } from '../support/manual-clock.ts';

/** A dashboard over its own registry and a manual clock; `queue` scripted per sample. */
function harness(options: { maxPoints?: number; queue?: DashboardSources['queue'] } = {}) {
  const clock = new ManualClock(0);
  const registry = new Registry();
  const runs = new Counter({
    name: 'RunsCompleted',
    help: 'runs',
    labelNames: ['service'],
    registers: [registry],
  });
  const tenants = new LocalTenantTop({ clock });
  const dashboard = new NodeDashboard({
    nodeId: 'unit',
    clock,
    periodMs: 1_000,
    ...(options.maxPoints === undefined ? {} : { maxPoints: options.maxPoints }),
    sources: {
      registry,
      tenants,
      tenantWindowMs: 900_000,
      health: () => ({}),
      openStreams: () => 2,
      ...(options.queue === undefined ? {} : { queue: options.queue }),
    },
  });
  return { clock, runs, tenants, dashboard };
}

describe('NodeDashboard', () => {
  it('returns each counter as its increase over the period, none for the first point, and the total since start', async () => {
    const { dashboard, runs, clock } = harness();
    runs.inc({ service: 'agent-orchestrator' }, 4);
    const first = await dashboard.sample();
    runs.inc({ service: 'agent-orchestrator' }, 2);
    clock.advance(1_000);
    const second = await dashboard.sample();
    expect(first.values.runs_completed).toBeNull();
    expect(second.values.runs_completed).toBe(2);
    expect(second.values.open_streams).toBe(2);
    const data = await dashboard.data();
    expect(data.totals.find((total) => total.key === 'runs_completed')?.value).toBe(6);
    expect(data.points.map((point) => point.t)).toEqual([0, 1_000]);
  });

  it('returns at most its bounded number of points, the newest', async () => {
    const { dashboard, clock } = harness({ maxPoints: 3 });
    for (let i = 0; i < 5; i += 1) {
      await dashboard.sample();
      clock.advance(1_000);
    }
    expect((await dashboard.data()).points.map((point) => point.t)).toEqual([2_000, 3_000, 4_000]);
  });

  it('returns latency percentiles of the period’s buffered responses only', async () => {
    const { dashboard } = harness();
    for (let ms = 1; ms <= 100; ms += 1) dashboard.observe({ status: 200, latencyMs: ms, streaming: false });
    dashboard.observe({ status: 200, latencyMs: 60_000, streaming: true });
    const point = await dashboard.sample();
    expect([point.values.latency_p50, point.values.latency_p95, point.values.latency_p99]).toEqual([
      50, 95, 99,
    ]);
    expect((await dashboard.sample()).values.latency_p95).toBeNull();
  });

  it('returns a gap for a queue it cannot read, and counts the failed reads', async () => {
    let fail = true;
    const { dashboard } = harness({
      queue: () =>
        fail
          ? Promise.reject(new Error('emulator down'))
          : Promise.resolve({ visible: 3, inFlight: 1, deadLetters: 0 }),
    });
    expect((await dashboard.sample()).values.queue_visible).toBeNull();
    fail = false;
    expect((await dashboard.sample()).values.queue_visible).toBe(3);
    const data = await dashboard.data();
    expect(data.failed_queue_reads).toBe(1);
    expect(data.last_queue_error).toBe('Error');
  });
});

/** A request as the front hands it over: its remote address, Host header and method. */
function fakeExchange(remoteAddress: string, host: string, method = 'GET') {
  const request = { headers: { host }, method, socket: { remoteAddress } } as unknown as IncomingMessage;
  const answer: { status?: number; headers?: Record<string, string>; body?: string } = {};
  const response = {
    writeHead(status: number, headers: Record<string, string>) {
      answer.status = status;
      answer.headers = headers;
    },
    end(body?: string) {
      answer.body = body;
    },
  } as unknown as ServerResponse;
  return { request, response, answer };
}

describe('dashboardRequest', () => {
  it('returns the data to a loopback client under a loopback host name, never cached', async () => {
    const { dashboard } = harness();
    const { request, response, answer } = fakeExchange('127.0.0.1', '127.0.0.1:8710');
    expect(await dashboardRequest(dashboard, request, response, dashboardPaths.data)).toBe(true);
    expect(answer.status).toBe(200);
    expect(answer.headers?.['cache-control']).toBe('no-store');
    expect(JSON.parse(answer.body ?? '{}')).toMatchObject({ node_id: 'unit' });
  });

  it('throws 403 for a client on another machine, and for a loopback client under another host name', async () => {
    const { dashboard } = harness();
    for (const [address, host] of [
      ['10.0.0.7', '127.0.0.1:8710'],
      ['127.0.0.1', 'rebound.example:8710'],
    ] as const) {
      const { request, response, answer } = fakeExchange(address, host);
      expect(await dashboardRequest(dashboard, request, response, dashboardPaths.page)).toBe(true);
      expect(answer.status).toBe(403);
      expect(answer.body).not.toContain('tenant');
    }
  });

  it('returns false for a path that is not the dashboard’s, leaving it to the API', async () => {
    const { dashboard } = harness();
    const { request, response, answer } = fakeExchange('127.0.0.1', 'localhost:8710');
    expect(await dashboardRequest(dashboard, request, response, '/v1/runs')).toBe(false);
    expect(answer.status).toBeUndefined();
  });
});
