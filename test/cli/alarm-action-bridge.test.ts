import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import type { SNSEvent } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { startAlarmActionBridge } from '../../cli/aws/alarm-action-bridge.ts';
import type { AlarmActionBridge } from '../../cli/aws/alarm-action-bridge.ts';
import { testAwsConfig, uniqueNodeId } from '../support/aws.ts';

const cloudWatch = new CloudWatchClient(testAwsConfig());
const bridges: AlarmActionBridge[] = [];

afterAll(async () => {
  await Promise.all(bridges.map((bridge) => bridge.stop()));
  cloudWatch.destroy();
});

async function alarm(name: string, topicArn: string): Promise<void> {
  await cloudWatch.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      Namespace: 'AgentOS',
      MetricName: 'ModelCallsFailed',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 3,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [topicArn],
      OKActions: [topicArn],
    }),
  );
}

async function until<T>(read: () => T | undefined): Promise<T> {
  for (let tries = 0; tries < 100; tries += 1) {
    const value = read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('nothing arrived');
}

describe('the alarm action bridge on the emulator', () => {
  it('returns each state change of an alarm on the topic to the handler as the SNS event Lambda gets, and no other', async () => {
    const node = uniqueNodeId('bridge');
    const topicArn = `arn:aws:sns:us-east-1:123456789012:agentos-${node}-alarms`;
    await alarm(`agentos-${node}-model_backend_unreachable`, topicArn);
    await alarm(`agentos-${node}-elsewhere`, `${topicArn}-other`);
    const events: SNSEvent[] = [];
    bridges.push(
      startAlarmActionBridge({
        aws: testAwsConfig(),
        topicArn,
        functionName: 'notifier',
        timeoutSeconds: 30,
        intervalMs: 100,
        handler: (event) => {
          events.push(event);
          return Promise.resolve(undefined);
        },
        onError: (error) => {
          throw error;
        },
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await cloudWatch.send(
      new SetAlarmStateCommand({
        AlarmName: `agentos-${node}-elsewhere`,
        StateValue: 'ALARM',
        StateReason: 'not on the topic',
      }),
    );
    await cloudWatch.send(
      new SetAlarmStateCommand({
        AlarmName: `agentos-${node}-model_backend_unreachable`,
        StateValue: 'ALARM',
        StateReason: 'Threshold Crossed: 1 datapoint [4.0 (04/12/26 18:00:00)]',
      }),
    );
    const [record] = (await until(() => events[0])).Records;
    expect(record?.Sns.TopicArn).toBe(topicArn);
    expect(JSON.parse(record?.Sns.Message ?? '{}')).toMatchObject({
      AlarmName: `agentos-${node}-model_backend_unreachable`,
      NewStateValue: 'ALARM',
      NewStateReason: 'Threshold Crossed: 1 datapoint [4.0 (04/12/26 18:00:00)]',
      StateChangeTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+\+0000$/) as unknown,
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(events).toHaveLength(1);
  });
});
