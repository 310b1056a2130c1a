import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { threeStepRunInput } from '../../cli/client/three-step-run.ts';
import { allowedMetricLabels } from '../../functions/shared/observability/local-metrics.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { waitForRun } from '../support/run-events.ts';

let node: TestNode;
let client: AgentOsClient;

beforeAll(async () => {
  node = await startTestNode();
  await node.seed('acme');
  client = new AgentOsClient(node.node.orchestratorUrl, await node.auth.token('acme'));
});

afterAll(async () => {
  await node.stop();
});

/** Sample lines of a Prometheus text exposition: name, label set and value. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (match === null) throw new Error(`not a Prometheus sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [
          m[1]!,
          m[2]!,
        ]),
      );
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

describe('GET /metrics on a local node', () => {
  it('returns the EMF metric names in the Prometheus text format on both services’ ports, with bounded labels only', async () => {
    const created = await client.createRun(threeStepRunInput('sample-agent', 'metrics'));
    expect(created.status).toBe(201);
    await waitForRun(client, created.body.run_id, (run) => run.status === 'completed');
    // A completed run's event stream replays its events and ends: the gauge went up and back down.
    const events = await fetch(`${node.node.orchestratorUrl}/v1/runs/${created.body.run_id}/events`, {
      headers: { authorization: `Bearer ${await node.auth.token('acme')}`, accept: 'text/event-stream' },
    });
    expect(events.status).toBe(200);
    await events.text();
    // Counted before admission: a refused call is a request too.
    expect((await fetch(`${node.node.modelPolicyUrl}/v1/models`)).status).toBe(401);

    const scraped = await fetch(`${node.node.orchestratorUrl}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const lines = samples(await scraped.text());
    // Summed over the finer labels (a request's operation), as the CloudWatch `service` set is.
    const value = (name: string, service: string) =>
      lines
        .filter((s) => s.name === name && s.labels['service'] === service)
        .reduce((sum, s) => sum + s.value, 0);
    expect(value('Requests', 'agent-orchestrator')).toBeGreaterThanOrEqual(2);
    expect(value('Requests', 'model-policy')).toBeGreaterThanOrEqual(1);
    expect(value('StepsProcessed', 'agent-orchestrator')).toBeGreaterThanOrEqual(3);
    expect(value('RunsCompleted', 'agent-orchestrator')).toBeGreaterThanOrEqual(1);
    // Requests by declared operation, never by path: the run's id is in the path, not the label.
    expect(
      lines.find((s) => s.name === 'Requests' && s.labels['operation'] === 'createRun')?.value,
    ).toBeGreaterThanOrEqual(1);
    expect(value('RequestLatencyMs_count', 'model-policy')).toBeGreaterThanOrEqual(1);
    // The gauges: open event streams, and the queues the node samples (SQS's own metrics on AWS).
    const gauges = [
      'SseConnectionsOpen',
      'StepQueueDepth',
      'StepQueueOldestAgeSeconds',
      'DeadLetterQueueDepth',
    ];
    expect(
      gauges.filter(
        (name) => !lines.some((s) => s.name === name && s.labels['service'] === 'agent-orchestrator'),
      ),
    ).toEqual([]);
    expect(value('DeadLetterQueueDepth', 'agent-orchestrator')).toBe(0);

    const fromModelPolicyPort = samples(await (await fetch(`${node.node.modelPolicyUrl}/metrics`)).text());
    expect(fromModelPolicyPort.map((s) => s.name)).toContain('Requests');

    const allowed = new Set([...Object.keys(allowedMetricLabels), 'le']);
    const tenantIds = new Set(['acme', created.body.run_id]);
    for (const sample of [...lines, ...fromModelPolicyPort]) {
      for (const [label, labelValue] of Object.entries(sample.labels)) {
        expect(allowed).toContain(label);
        expect(tenantIds).not.toContain(labelValue);
      }
    }
  });
});
