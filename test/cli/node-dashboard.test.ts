import { request } from 'node:http';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { threeStepRunInput } from '../../cli/client/three-step-run.ts';
import type { DashboardData } from '../../cli/local/dashboard/node-dashboard.ts';
import { dashboardPaths } from '../../cli/local/dashboard/dashboard-page.ts';
import { defaultModelCatalog } from '../../functions/model-policy/composition/default-catalog.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { waitForRun } from '../support/run-events.ts';

/**
 * The local node's dashboard over real HTTP and in a real browser (headless Chromium): after runs
 * and model calls of two tenants, its page shows non-zero runs, model calls and spend, and the
 * tenants in its top-tenant tables.
 */

let node: TestNode;
let browser: Browser | undefined;

/** The default catalog with the local models priced, so model calls cost something. */
function pricedCatalog(): string {
  const [prices] = defaultModelCatalog.price_tables;
  return JSON.stringify({
    ...defaultModelCatalog,
    price_tables: [
      {
        ...prices!,
        prices: {
          ...prices!.prices,
          'local/echo': { input_usd_per_mtok: 3, output_usd_per_mtok: 15 },
          'local/scripted': { input_usd_per_mtok: 3, output_usd_per_mtok: 15 },
        },
      },
    ],
  });
}

async function completeRuns(tenantId: string, runs: number): Promise<void> {
  const client = new AgentOsClient(node.node.orchestratorUrl, await node.auth.token(tenantId));
  for (let i = 0; i < runs; i += 1) {
    const created = await client.createRun(threeStepRunInput('sample-agent', `${tenantId}-${i}`));
    expect(created.status).toBe(201);
    const run = await waitForRun(client, created.body.run_id, (r) => r.status === 'completed');
    expect(run.status).toBe('completed');
  }
}

async function chat(tenantId: string): Promise<void> {
  const response = await fetch(`${node.node.modelPolicyUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await node.auth.token(tenantId)}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ model: 'local/echo', messages: [{ role: 'user', content: 'hello dashboard' }] }),
  });
  expect(response.status).toBe(200);
  await response.body?.cancel();
}

async function dashboardData(): Promise<DashboardData> {
  const response = await fetch(`${node.node.orchestratorUrl}${dashboardPaths.data}`);
  expect(response.status).toBe(200);
  return (await response.json()) as DashboardData;
}

/** Polls the dashboard's data until `done` holds (the node samples every 250 ms). */
async function dataWhere(done: (data: DashboardData) => boolean): Promise<DashboardData> {
  const deadline = Date.now() + 20_000;
  let data = await dashboardData();
  while (!done(data) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    data = await dashboardData();
  }
  return data;
}

const top = (data: DashboardData, ranking: string) =>
  data.tenants.find((view) => view.ranking === ranking)?.top ?? [];

/** GET `path` from the node with a given Host header (fetch does not let one set it). */
function getWithHost(path: string, host: string): Promise<number> {
  const url = new URL(path, node.node.orchestratorUrl);
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

beforeAll(async () => {
  node = await startTestNode({
    functionEnv: { AGENTOS_MODEL_CATALOG: pricedCatalog() },
    dashboardPeriodMs: 250,
  });
  await node.seed('acme');
  await node.seed('globex');
  await completeRuns('acme', 2);
  await completeRuns('globex', 1);
  for (let i = 0; i < 3; i += 1) await chat('acme');
});

afterAll(async () => {
  await browser?.close();
  await node.stop();
});

describe('the local node dashboard', () => {
  it('returns runs, model calls, spend and latency in its data, and the tenants in its top-tenant rankings', async () => {
    const data = await dataWhere(
      (d) =>
        d.points.some((point) => (point.values.runs_completed ?? 0) > 0) &&
        d.health.length === 2 &&
        d.health.every((check) => check.up === true) &&
        // A model call is counted when it settles, which is after its answer was delivered.
        (d.totals.find((entry) => entry.key === 'model_calls')?.value ?? 0) >= 3 * 3 + 3,
    );
    const total = (key: string) => data.totals.find((entry) => entry.key === key)?.value ?? 0;
    expect(total('runs_completed')).toBeGreaterThanOrEqual(3);
    expect(total('model_calls')).toBeGreaterThanOrEqual(3 * 3 + 3);
    expect(total('model_cost_nano_usd')).toBeGreaterThan(0);
    expect(data.points.some((point) => (point.values.latency_p95 ?? 0) > 0)).toBe(true);
    expect(data.points.at(-1)?.values.queue_visible).not.toBeNull();

    const requests = top(data, 'tenant-requests').map((row) => row.tenant_id);
    expect(requests).toEqual(expect.arrayContaining(['acme', 'globex']));
    // acme made two runs and three direct model calls: it leads by requests and by spend.
    expect(requests[0]).toBe('acme');
    expect(top(data, 'tenant-model-spend')[0]?.tenant_id).toBe('acme');
    expect(top(data, 'tenant-model-spend')[0]?.value).toBeGreaterThan(0);
  });

  it('throws 403 for a page requested under another host name, as a rebinding site would', async () => {
    expect(await getWithHost(dashboardPaths.data, 'dashboard.evil.example')).toBe(403);
    expect(
      await getWithHost(dashboardPaths.page, `127.0.0.1:${new URL(node.node.orchestratorUrl).port}`),
    ).toBe(200);
  });

  it('returns the page with a strict Content-Security-Policy, its script and style from the node itself', async () => {
    const page = await fetch(`${node.node.modelPolicyUrl}${dashboardPaths.page}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>|style=/);
  });

  it('returns a rendered page in headless Chromium with non-zero runs, a runs chart and top-tenant rows', async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    // No request may leave the node: the page works offline.
    page.on('request', (outgoing) => {
      if (!outgoing.url().startsWith(node.node.orchestratorUrl))
        problems.push(`request to ${outgoing.url()}`);
    });

    await page.goto(`${node.node.orchestratorUrl}${dashboardPaths.page}`);
    const runsTotal = page.locator('#total-runs_completed .value');
    await expect
      .poll(async () => Number(await runsTotal.textContent()), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(3);
    await expect
      .poll(async () => page.locator('#panel-runs polyline[data-series="runs_completed"]').count(), {
        timeout: 15_000,
      })
      .toBe(1);
    await expect
      .poll(async () => page.locator('#ranking-tenant-requests td.tenant').allTextContents(), {
        timeout: 15_000,
      })
      .toEqual(expect.arrayContaining(['acme', 'globex']));
    expect(await page.locator('#ranking-tenant-model-spend td.tenant').first().textContent()).toBe('acme');
    expect(await page.locator('#health-orchestrator .value').textContent()).toBe('up');
    expect(Number(await page.locator('#total-model_calls .value').textContent())).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });
});
