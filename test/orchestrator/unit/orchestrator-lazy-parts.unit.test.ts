import { describe, expect, it } from 'vitest';
import { composeOrchestratorCore } from '../../../functions/orchestrator/composition/orchestrator-core.ts';
import type { ComposeOrchestratorOptions } from '../../../functions/orchestrator/composition/orchestrator-core.ts';
import { lazyModule } from '../../../functions/orchestrator/composition/lazy-module.ts';
import { toolsOnFirstUse } from '../../../functions/orchestrator/composition/orchestrator-step-worker.ts';
import type { ToolPort } from '../../../functions/orchestrator/ports/tool-port.ts';

const env = {
  AWS_REGION: 'us-east-1',
  AGENTOS_TABLE_NAME: 'agentos-test',
  AGENTOS_STEP_QUEUE_URL: 'http://localhost:5000/000000000000/steps',
  AGENTOS_DEADLINE_QUEUE_URL: 'http://localhost:5000/000000000000/deadlines',
  AGENTOS_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:deadline',
  AGENTOS_LONG_RUN_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:long-run',
  POWERTOOLS_TRACE_ENABLED: 'false',
  POWERTOOLS_METRICS_DISABLED: 'true',
};

describe('the Orchestrator core’s run transport', () => {
  it('builds one transport (SQS and Step Functions clients) when a batch’s steps first need it at once', async () => {
    let built = 0;
    const runTransport = {
      createRunTransport: () => {
        built += 1;
        return { queue: {}, driver: {} };
      },
    } as unknown as NonNullable<ComposeOrchestratorOptions['runTransport']>;
    const core = composeOrchestratorCore(env, { runTransport });
    const transports = await Promise.all([core.transport(), core.transport(), core.transport()]);
    expect(built).toBe(1);
    expect(new Set(transports).size).toBe(1);
  });
});

describe('the step worker’s tools', () => {
  const auth = {
    tenant_id: 't',
    principal: { id: 'p', type: 'user' as const },
    scopes: [],
    policy_context: {},
  };

  it('loads no tool catalog for an agent without tools, and loads it once for one with tools', async () => {
    let loads = 0;
    const catalog: ToolPort = {
      describe: async (_auth, toolIds) => toolIds.map((name) => ({ type: 'function', function: { name } })),
      invoke: async () =>
        ({ ok: true, output: 'done' }) as unknown as Awaited<ReturnType<ToolPort['invoke']>>,
    };
    const tools = toolsOnFirstUse(
      lazyModule(undefined, async () => {
        loads += 1;
        return catalog;
      }),
    );
    expect(await tools.describe(auth, [])).toEqual([]);
    expect(loads).toBe(0);
    expect(await tools.describe(auth, ['echo'])).toEqual([{ type: 'function', function: { name: 'echo' } }]);
    await tools.describe(auth, ['echo']);
    expect(loads).toBe(1);
  });
});
