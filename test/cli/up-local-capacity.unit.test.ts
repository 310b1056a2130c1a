import { describe, expect, it } from 'vitest';
import { stackContext } from '../../cli/commands/remote/deploy.ts';
import { localDeployContext } from '../../cli/local/local-deploy.ts';
import { nodePaths } from '../../cli/local/local-state.ts';
import { newOperatorReport } from '../../cli/reports/operator-report.ts';
import { PhaseRunner } from '../../cli/reports/phase-runner.ts';
import { nodeSettingsFromContext } from '../../infra/config/node-settings.ts';
import type { NodeConfig } from '../../cli/config/node-config.ts';

const keys = {
  secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf',
  jwks: { keys: [{ kty: 'EC', kid: 'k1', crv: 'P-256', x: 'x', y: 'y' }] },
  created: false,
  kids: [],
};

/** The stack settings `up --local` deploys its node with, given the configuration's sections. */
function localStackSettings(sections: { capacity?: NodeConfig['capacity']; tools?: NodeConfig['tools'] }) {
  const context = localDeployContext({
    nodeId: 'capacity-test',
    region: 'us-east-1',
    emulatorEndpoint: 'http://127.0.0.1:1',
    out: process.stdout,
    runner: new PhaseRunner(process.stdout),
    report: newOperatorReport('up', 'capacity-test', 'none'),
    paths: nodePaths('capacity-test', { AGENTOS_STATE_DIR: '/tmp/agentos-capacity-test' }),
    ...sections,
  });
  const values = stackContext(context, keys);
  return nodeSettingsFromContext((key) => values[key]);
}

describe('agentos up --local and the capacity section of the node configuration', () => {
  it("deploys the local node's functions with the configured run capacity and capacity mode", () => {
    const settings = localStackSettings({ capacity: { max_concurrent_runs: 7, mode: 'reject' } });
    expect(settings.nodeMaxConcurrentRuns).toBe(7);
    expect(settings.nodeCapacityMode).toBe('reject');
  });

  it('deploys the default capacity (1,000 runs, queue) when the configuration has no capacity section', () => {
    const settings = localStackSettings({});
    expect(settings.nodeMaxConcurrentRuns).toBe(1_000);
    expect(settings.nodeCapacityMode).toBe('queue');
  });

  it('keeps forwarding the tools section alongside the capacity', () => {
    const settings = localStackSettings({
      capacity: { max_concurrent_runs: 3, mode: 'queue' },
      tools: { allowed_hosts: ['127.0.0.1:8799'] },
    });
    expect(settings.toolAllowedHosts).toEqual(['127.0.0.1:8799']);
    expect(settings.nodeMaxConcurrentRuns).toBe(3);
  });
});
