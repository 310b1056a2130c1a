import { nodeEndpoints, nodeTokens } from './node-access.ts';
import { checkPhases, deployedOutputs, finishRemote } from './remote-phases.ts';
import { newRemoteContext } from './remote-context.ts';
import type { RemoteOptions } from './remote-context.ts';

/**
 * What the report's alert test says on AWS and emulator targets: the deployed stack does not send
 * alert e-mail yet (the catalog and notifier it will use exist), so no test alert is sent and none
 * is reported as passed.
 */
export const awsTestAlertUnsupported =
  'not yet supported on AWS: the deployed stack does not send alert e-mail yet; no test alert was sent';

/**
 * `agentos validate`: the health checks and the smoke run of `up`, on demand. 0 when green.
 * `testAlert` is recorded as not yet supported (see {@link awsTestAlertUnsupported}).
 */
export async function validateRemote(options: RemoteOptions & { testAlert?: boolean }): Promise<number> {
  const context = await newRemoteContext('validate', options);
  const { report } = context;
  if (options.testAlert === true) report.alert_test.detail = awsTestAlertUnsupported;
  try {
    const outputs = await deployedOutputs(context);
    const endpoints = await nodeEndpoints(context, outputs, { restart: false });
    report.seeded = { sample_agent: 'sample-agent' };
    await checkPhases(context, endpoints, await nodeTokens(context, outputs));
    report.outcome = 'green';
  } catch (error) {
    report.notes.push(`Stopped: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (options.testAlert === true) context.runner.skip('alert test', awsTestAlertUnsupported);
  return finishRemote(context, {
    green: `AgentOS stage "${options.target.stage}" is healthy`,
    red: 'agentos validate failed',
  });
}
