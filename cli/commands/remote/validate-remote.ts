import { nodeEndpoints, nodeTokens } from './node-access.ts';
import { checkPhases, deployedOutputs, finishRemote } from './remote-phases.ts';
import { newRemoteContext } from './remote-context.ts';
import { remoteTestAlert } from './test-alert-remote.ts';
import type { RemoteOptions } from './remote-context.ts';

/**
 * `agentos validate`: the health checks and the smoke run of `up`, on demand. 0 when green. With
 * `testAlert`, a test alert then goes through the deployed alarm path (see {@link remoteTestAlert})
 * and the report's alert section records whether its e-mail was sent, with the timings; a test alert
 * that was not confirmed makes the report red.
 */
export async function validateRemote(options: RemoteOptions & { testAlert?: boolean }): Promise<number> {
  const context = await newRemoteContext('validate', options);
  const { report } = context;
  let outputs: Record<string, string> | undefined;
  try {
    outputs = await deployedOutputs(context);
    const endpoints = await nodeEndpoints(context, outputs, { restart: false });
    report.seeded = { sample_agent: 'sample-agent' };
    await checkPhases(context, endpoints, await nodeTokens(context, outputs));
    report.outcome = 'green';
  } catch (error) {
    report.notes.push(`Stopped: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (options.testAlert === true) {
    const deployed = outputs;
    if (deployed === undefined) {
      const reason = 'the stack could not be read, so no test alert was sent';
      report.alert_test = { name: 'alert e-mail', outcome: 'failed', duration_ms: 0, detail: reason };
      context.runner.skip('alert test', reason);
    } else {
      await context.runner
        .run('alert test', async (note) => {
          report.alert_test = await remoteTestAlert(context, deployed);
          if (report.alert_test.outcome !== 'ok') throw new Error(report.alert_test.detail);
          note(report.alert_test.detail);
        })
        .catch(() => {
          report.outcome = 'red';
        });
    }
  }
  return finishRemote(context, {
    green: `AgentOS stage "${options.target.stage}" is healthy`,
    red: 'agentos validate failed',
  });
}
