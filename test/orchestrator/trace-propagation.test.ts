import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { modelPolicyEnv } from '../../functions/model-policy/composition/model-policy-config.ts';
import { fakeOpenAiCatalog, startFakeOpenAiServer } from '../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../fakes/fake-openai-server.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { waitForRun } from '../support/run-events.ts';

let node: TestNode;
let openai: FakeOpenAiServer;

beforeAll(async () => {
  openai = await startFakeOpenAiServer();
  node = await startTestNode({
    functionEnv: modelPolicyEnv.render({
      AGENTOS_MODEL_CATALOG: JSON.stringify(fakeOpenAiCatalog(openai.url)),
    }) as Record<string, string>,
  });
  await node.seed('acme', { model_ref: 'fake/gpt' });
});

afterAll(async () => {
  await node?.stop();
  await openai?.close();
});

describe('W3C trace context', () => {
  it('returns the trace id sent on POST /v1/runs in the provider call of the run’s model step, across the step queue', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const token = await node.auth.token('acme');
    const created = await fetch(`${node.node.orchestratorUrl}/v1/runs`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({
        agent_id: 'sample-agent',
        input: { messages: [{ role: 'user', content: 'hello' }] },
      }),
    });
    expect(created.status).toBe(201);
    const { run_id: runId } = (await created.json()) as { run_id: string };
    const client = new AgentOsClient(node.node.orchestratorUrl, token);
    await waitForRun(client, runId, (run) => ['completed', 'failed'].includes(run.status));

    const calls = openai.requests.filter((request) => request.path.endsWith('/chat/completions'));
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(String(call.headers.traceparent)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    }
  });
});
