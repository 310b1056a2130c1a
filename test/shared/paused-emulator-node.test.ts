import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';
import { awsClientEnv } from '../../functions/shared/aws/client-config.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { waitForRun } from '../support/run-events.ts';

/**
 * A whole local node on an emulator that stops answering (SIGSTOP), as a stalled DynamoDB would:
 * requests fail fast with 503 instead of hanging, readiness names the dependency, liveness stays up,
 * and the node serves again once the emulator resumes. A private emulator: pausing the shared one
 * would stall every other test file.
 */
let moto: EmulatorHandle;
let node: TestNode;
let token: string;

beforeAll(async () => {
  moto = await startMoto();
  process.env[awsClientEnv.names.AGENTOS_AWS_ENDPOINT] = moto.endpoint;
  node = await startTestNode({
    functionEnv: awsClientEnv.render({
      AGENTOS_AWS_REQUEST_TIMEOUT_MS: '500',
      AGENTOS_AWS_MAX_ATTEMPTS: '2',
    }),
  });
  await node.seed('acme');
  token = await node.auth.token('acme');
});

afterAll(async () => {
  if (moto.pid !== undefined) process.kill(moto.pid, 'SIGCONT');
  await node.stop();
  await moto.stop();
});

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${node.node.orchestratorUrl}${path}`, {
    headers: { authorization: `Bearer ${token}` },
    // Far above the services' retry budget (2 attempts × 500 ms): only a hanging request reaches it.
    signal: AbortSignal.timeout(20_000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('a node whose emulator stops answering', () => {
  it('answers 503 dependency_unavailable instead of hanging, and serves again once the emulator resumes', async () => {
    const client = new AgentOsClient(node.node.orchestratorUrl, token);
    const created = await client.createRun({
      agent_id: 'sample-agent',
      input: { messages: [{ role: 'user', content: 'hi' }] },
    });
    const runId = created.body.run_id;
    expect((await waitForRun(client, runId, (run) => run.status === 'completed')).status).toBe('completed');

    process.kill(moto.pid!, 'SIGSTOP');
    try {
      const stalled = await get(`/v1/runs/${runId}`);
      expect(stalled).toMatchObject({ status: 503, body: { error: { code: 'dependency_unavailable' } } });
      const ready = await get('/v1/health/ready');
      expect(ready.status).toBe(503);
      expect(JSON.stringify(ready.body)).toContain('table');
      expect((await get('/v1/health')).status).toBe(200);
    } finally {
      process.kill(moto.pid!, 'SIGCONT');
    }

    // Once resumed, the emulator first works off what piled up while it was paused.
    let status = 503;
    for (let attempt = 0; status !== 200 && attempt < 40; attempt += 1) {
      status = (await get(`/v1/runs/${runId}`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(200);
  });
});
