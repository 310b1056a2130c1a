import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  PutLogEventsCommand,
  CreateLogStreamCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, describe, expect, it } from 'vitest';
import { notifierLogLine } from '../../cli/commands/remote/test-alert-remote.ts';
import { alertSentLogMessage } from '../../functions/alert-notifier/alert-handler.ts';
import { testAwsConfig, uniqueNodeId } from '../support/aws.ts';

const logs = new CloudWatchLogsClient(testAwsConfig());

afterAll(() => {
  logs.destroy();
});

/** A notifier log group holding these Powertools lines. */
async function logGroupWith(lines: Record<string, unknown>[]): Promise<string> {
  const group = `AgentOS-${uniqueNodeId('alerts')}-alertNotifierLogs`;
  await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'instance' }));
  const now = Date.now();
  await logs.send(
    new PutLogEventsCommand({
      logGroupName: group,
      logStreamName: 'instance',
      logEvents: lines.map((line, index) => ({ timestamp: now + index, message: JSON.stringify(line) })),
    }),
  );
  return group;
}

describe("the test alert's confirmation in the notifier log", () => {
  it('returns the message id the notifier logged for the test id, and nothing for another test', async () => {
    const testId = crypto.randomUUID();
    const group = await logGroupWith([
      {
        level: 'INFO',
        message: alertSentLogMessage,
        alarm: 'test_alert',
        test_id: crypto.randomUUID(),
        message_id: 'other',
      },
      {
        level: 'INFO',
        message: alertSentLogMessage,
        alarm: 'test_alert',
        test_id: testId,
        message_id: '0100-ses-id',
      },
    ]);
    expect(await notifierLogLine(logs, group, testId, Date.now() - 60_000)).toEqual({
      messageId: '0100-ses-id',
      where: `the notifier's log ${group}`,
    });
    expect(await notifierLogLine(logs, group, crypto.randomUUID(), Date.now() - 60_000)).toBeUndefined();
  });

  it('throws the error the notifier logged when it could not send the test alert', async () => {
    const testId = crypto.randomUUID();
    const group = await logGroupWith([
      {
        level: 'ERROR',
        message: 'alert e-mail not sent',
        alarm: 'test_alert',
        test_id: testId,
        error: { name: 'AlertDeliveryError', message: 'Email address is not verified' },
      },
    ]);
    await expect(notifierLogLine(logs, group, testId, Date.now() - 60_000)).rejects.toThrow(
      'the notifier could not send the test alert: Email address is not verified',
    );
  });
});
