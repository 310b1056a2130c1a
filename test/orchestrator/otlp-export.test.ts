import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { threeStepRunInput } from '../../cli/client/three-step-run.ts';
import { flushSpans, otlpTracingEnv } from '../../functions/shared/observability/otlp-tracing.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { waitForRun } from '../support/run-events.ts';

let node: TestNode;
let collector: Server;
const received: string[] = [];

beforeAll(async () => {
  // A tiny OTLP/HTTP collector: it keeps every export body it is sent.
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const { port } = collector.address() as AddressInfo;
  node = await startTestNode({
    functionEnv: otlpTracingEnv.render({ AGENTOS_OTLP_TRACES_URL: `http://127.0.0.1:${port}/v1/traces` }),
  });
  await node.seed('acme');
});

afterAll(async () => {
  await node?.stop();
  await new Promise((resolve) => collector?.close(resolve));
});

describe('OTLP trace export', () => {
  it('returns spans of a run’s requests and steps, with tenant and run attributes, to the configured collector', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const client = new AgentOsClient(node.node.orchestratorUrl, await node.auth.token('acme'));
    const created = await fetch(`${node.node.orchestratorUrl}/v1/runs`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await node.auth.token('acme')}`,
        'content-type': 'application/json',
        traceparent: `00-${traceId}-b7ad6b7169203331-01`,
      },
      body: JSON.stringify(threeStepRunInput('sample-agent', 'otlp')),
    });
    expect(created.status).toBe(201);
    const { run_id: runId } = (await created.json()) as { run_id: string };
    await waitForRun(client, runId, (run) => run.status === 'completed');
    // A step's span goes out once the worker is done with it, which may be just after the run
    // reads completed; the batch is flushed until it holds one of the run's steps.
    for (let tries = 0; tries < 50 && !received.join('\n').includes(runId); tries += 1) {
      await flushSpans();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const exported = received.join('\n');
    expect(exported).toContain('agentos.tenant_id');
    expect(exported).toContain('acme');
    expect(exported).toContain(runId);
    // OTLP/JSON carries ids as hex strings.
    expect(exported.toLowerCase()).toContain(traceId);
  });
});
