import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../cli/local/emulator.ts';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';

/** Debian's Chromium, which cli/bootstrap.sh installs for the test path. */
const chromiumPath = '/usr/bin/chromium';

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;
let token: string;
let pageServer: Server;
let pageOrigin: string;
let profileDir: string;
let browser: BrowserContext;

/** What the page saw, read back by the test. */
type PageState = {
  events: { id: string; type: string }[];
  opens: number;
  closed: boolean;
};

/**
 * A page of another origin than the API: it follows the run's events_url with an EventSource and
 * records every event, every (re)connection and whether the browser stopped reconnecting.
 */
const page = `<!doctype html>
<html><body><script>
  const state = { events: [], opens: 0, closed: false };
  window.streamState = state;
  const source = new EventSource(new URLSearchParams(location.search).get('events'));
  for (const type of ['run.queued', 'run.started', 'run.canceled', 'run.completed', 'run.failed']) {
    source.addEventListener(type, (event) => state.events.push({ id: event.lastEventId, type }));
  }
  source.onopen = () => { state.opens += 1; };
  source.onerror = () => { if (source.readyState === EventSource.CLOSED) state.closed = true; };
</script></body></html>`;

beforeAll(async () => {
  if (!existsSync(chromiumPath))
    throw new Error(`Chromium is not installed at ${chromiumPath}: run \`bash cli/bootstrap.sh test\``);
  const port = await freePort();
  pageOrigin = `http://127.0.0.1:${port}`;
  pageServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  });
  await new Promise<void>((resolve) => pageServer.listen(port, '127.0.0.1', resolve));
  api = await startOrchestratorApi({
    AGENTOS_CORS_ALLOWED_ORIGINS: pageOrigin,
    // The server ends each stream after 2 s and asks for a quick reconnect: the page reconnects mid-run.
    AGENTOS_SSE_MAX_DURATION_MS: '2000',
    AGENTOS_SSE_RETRY_MS: '200',
  });
  await api.seed('acme');
  token = await api.auth.token('acme');
  profileDir = await mkdtemp(join(tmpdir(), 'agentos-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await new Promise<void>((resolve) =>
    pageServer === undefined ? resolve() : pageServer.close(() => resolve()),
  );
  if (profileDir !== undefined) await rm(profileDir, { recursive: true, force: true });
});

describe('a browser following a run with EventSource', () => {
  it('returns every event once and in order across a reconnect, then stops on 204', async () => {
    const created = await fetch(`${api.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        agent_id: 'sample-agent',
        input: { messages: [{ role: 'user', content: 'hello' }] },
      }),
    });
    const run = (await created.json()) as { run_id: string; events_url: string };
    const tab = await browser.newPage();
    const statuses: number[] = [];
    const resumedFrom: Promise<string | undefined>[] = [];
    tab.on('response', (response) => {
      if (!new URL(response.url()).pathname.endsWith('/events')) return;
      statuses.push(response.status());
      resumedFrom.push(
        response
          .request()
          .headerValue('last-event-id')
          .then((value) => value ?? undefined),
      );
    });
    await tab.goto(`${pageOrigin}/?events=${encodeURIComponent(run.events_url)}`);
    // The server closed the first stream and the browser opened a second one, resuming after event 1.
    await tab.waitForFunction(
      () => (globalThis as unknown as { streamState: PageState }).streamState.opens >= 2,
    );
    await fetch(`${api.url}/v1/runs/${run.run_id}:cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    await tab.waitForFunction(() => (globalThis as unknown as { streamState: PageState }).streamState.closed);
    const state = await tab.evaluate(() => (globalThis as unknown as { streamState: PageState }).streamState);
    expect(state.events).toEqual([
      { id: '1', type: 'run.queued' },
      { id: '2', type: 'run.canceled' },
    ]);
    expect(state.opens).toBeGreaterThanOrEqual(2);
    expect(statuses.at(-1)).toBe(204);
    // Each reconnect resumed where the page was: after run.queued, and finally after run.canceled.
    const resumed = await Promise.all(resumedFrom);
    expect(resumed[0]).toBeUndefined();
    expect(resumed.slice(1, -1).every((id) => id === '1')).toBe(true);
    expect(resumed.at(-1)).toBe('2');
    expect(statuses.slice(0, -1).every((status) => status === 200)).toBe(true);
  });
});
