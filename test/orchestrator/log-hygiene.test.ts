import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { modelPolicyEnv } from '../../functions/model-policy/composition/model-policy-config.ts';
import { fakeOpenAiCatalog, startFakeOpenAiServer } from '../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../fakes/fake-openai-server.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { waitForRun } from '../support/run-events.ts';

/** Secrets a user might paste into a run, and a provider might answer with. */
const planted = {
  bearer: 'Bearer eyJhbGciOiJIUzI1NiJ9.cGxhbnRlZA.c2VjcmV0LXNpZ25hdHVyZQ',
  apiKey: 'sk-planted0123456789abcdefABCDEF0123456789',
  email: 'planted.person@example.org',
  card: '4111 1111 1111 1111',
};

let node: TestNode;
let openai: FakeOpenAiServer;
const written: string[] = [];

beforeAll(async () => {
  openai = await startFakeOpenAiServer();
  node = await startTestNode({
    functionEnv: {
      // Every line a run writes, debug ones included, is checked.
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      ...(modelPolicyEnv.render({
        AGENTOS_MODEL_CATALOG: JSON.stringify(fakeOpenAiCatalog(openai.url)),
      }) as Record<string, string>),
    },
  });
  await node.seed('acme', { model_ref: 'fake/gpt' });
});

afterAll(async () => {
  await node?.stop();
  await openai?.close();
});

function logLines(): Record<string, unknown>[] {
  return written
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    })
    .filter((line) => typeof line['level'] === 'string');
}

describe('log lines of a run', () => {
  it('returns no planted secret in any log line, and the context keys on every request line', async () => {
    const token = await node.auth.token('acme');
    // Every service of the node logs to this process's stdout, one JSON line each.
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return write(chunk, ...rest);
    }) as typeof process.stdout.write);
    const client = new AgentOsClient(node.node.orchestratorUrl, token);
    const content = `Remember ${planted.bearer}, key ${planted.apiKey}, mail ${planted.email}, card ${planted.card}.`;
    // The model's output carries the same secrets, planted by the provider.
    openai.enqueue({ kind: 'reply', text: `Noted: ${content}` });
    const created = await fetch(`${node.node.orchestratorUrl}/v1/runs`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'x-api-key': planted.apiKey,
      },
      body: JSON.stringify({ agent_id: 'sample-agent', input: { messages: [{ role: 'user', content }] } }),
    });
    expect(created.status).toBe(201);
    const { run_id: runId } = (await created.json()) as { run_id: string };
    await waitForRun(client, runId, (run) => ['completed', 'failed'].includes(run.status));
    // The request reached the provider (the Model Policy redacts what the user sent on the way).
    expect(openai.requests.length).toBeGreaterThan(0);

    // The step worker logs the terminal event after committing it, so the line may trail the status.
    await vi.waitFor(
      () =>
        expect(
          logLines()
            .filter((line) => line['message'] === 'run event' && line['run_id'] === runId)
            .map((line) => line['event_type']),
        ).toContain('run.completed'),
      { timeout: 15_000, interval: 50 },
    );
    const lines = logLines();
    const served = lines.filter((line) => line['message'] === 'request served');
    expect(served.length).toBeGreaterThan(0);
    for (const line of served.filter((l) => l['tenant_id'] === 'acme')) {
      expect(line).toMatchObject({
        service: expect.any(String),
        node_id: node.node.nodeId,
        correlation_id: expect.any(String),
        trace_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      });
    }
    // A request on the run carries its id; every line of every service names the node.
    expect(served.filter((line) => line['run_id'] === runId).length).toBeGreaterThan(0);
    expect(lines.filter((line) => line['node_id'] !== node.node.nodeId)).toEqual([]);
    // The run's lifecycle, across the step queue, is one trace in its event lines.
    const runEvents = lines.filter((line) => line['message'] === 'run event' && line['run_id'] === runId);
    expect(runEvents.map((line) => line['event_type'])).toContain('run.completed');
    expect(new Set(runEvents.map((line) => line['trace_id'])).size).toBe(1);
    expect(runEvents[0]).toMatchObject({
      tenant_id: 'acme',
      trace_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    const text = JSON.stringify(lines);
    for (const secret of [planted.bearer, planted.apiKey, planted.email, planted.card, token]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secret.replace(/ /g, ''));
    }
  });
});
