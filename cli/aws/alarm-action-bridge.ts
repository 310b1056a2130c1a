import { CloudWatchClient, paginateDescribeAlarms } from '@aws-sdk/client-cloudwatch';
import type { MetricAlarm } from '@aws-sdk/client-cloudwatch';
import type { SNSEvent } from 'aws-lambda';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { createLambdaContext } from '../local/lambda-context.ts';
import { inInvocation } from '../local/lambda-runtime-shim.ts';

/** A running stand-in for alarm actions and the topic's Lambda subscription. */
export type AlarmActionBridge = { stop(): Promise<void> };

/** Settings of {@link startAlarmActionBridge}. */
export type AlarmActionBridgeOptions = {
  aws: AwsClientConfig;
  /** The topic the subscription is on: alarms whose actions name it are delivered. */
  topicArn: string;
  functionName: string;
  timeoutSeconds: number;
  handler: (event: SNSEvent, context: unknown) => Promise<unknown>;
  /** How often alarm states are read. */
  intervalMs?: number;
  /** Told about every failure: a read, or a delivery that failed every attempt. */
  onError: (error: unknown) => void;
  /** Told about every delivery the handler took. */
  onDelivered?: (alarmName: string, state: string) => void;
};

/** Deliveries of one state change, the first included: Lambda retries a failed asynchronous invocation twice. */
const deliveryAttempts = 3;

/** The actions CloudWatch runs when an alarm enters a state. */
function actionsOf(alarm: MetricAlarm): string[] {
  if (alarm.ActionsEnabled === false) return [];
  if (alarm.StateValue === 'ALARM') return alarm.AlarmActions ?? [];
  if (alarm.StateValue === 'OK') return alarm.OKActions ?? [];
  return alarm.InsufficientDataActions ?? [];
}

/** The SNS message CloudWatch publishes for a state change (the fields the notifier reads, and their neighbours). */
function alarmMessage(alarm: MetricAlarm, oldState: string | undefined): string {
  const region = alarm.AlarmArn?.split(':')[3] ?? '';
  return JSON.stringify({
    AlarmName: alarm.AlarmName,
    AlarmDescription: alarm.AlarmDescription ?? null,
    AWSAccountId: alarm.AlarmArn?.split(':')[4] ?? '',
    NewStateValue: alarm.StateValue,
    NewStateReason: alarm.StateReason ?? '',
    StateChangeTime: (alarm.StateUpdatedTimestamp ?? new Date()).toISOString().replace('Z', '+0000'),
    Region: region,
    AlarmArn: alarm.AlarmArn,
    OldStateValue: oldState ?? 'INSUFFICIENT_DATA',
  });
}

function snsEvent(topicArn: string, alarm: MetricAlarm, oldState: string | undefined): SNSEvent {
  const messageId = crypto.randomUUID();
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${topicArn}:${messageId}`,
        Sns: {
          Type: 'Notification',
          MessageId: messageId,
          TopicArn: topicArn,
          Subject: `${alarm.StateValue ?? ''}: "${alarm.AlarmName ?? ''}"`,
          Message: alarmMessage(alarm, oldState),
          Timestamp: new Date().toISOString(),
          SignatureVersion: '1',
          Signature: '',
          SigningCertUrl: '',
          UnsubscribeUrl: '',
          MessageAttributes: {},
        },
      },
    ],
  };
}

/**
 * Stands in, on an emulator, for what CloudWatch and SNS do on AWS when an alarm changes state: the
 * emulator keeps alarms and their state (SetAlarmState moves it) but neither runs an alarm's actions
 * nor delivers a topic to a Lambda subscription. Every `intervalMs` this reads the alarms; each
 * state change since the last read whose actions name the subscribed topic is handed to the deployed
 * notifier's handler as the SNS event Lambda would get, retried as Lambda retries an asynchronous
 * invocation. The first read only learns the states: a change before the bridge started is not
 * delivered. Nothing is evaluated here: alarms change state only when told to.
 */
export function startAlarmActionBridge(options: AlarmActionBridgeOptions): AlarmActionBridge {
  const cloudWatch = new CloudWatchClient(options.aws);
  const seen = new Map<string, { state: string | undefined; at: number }>();
  let primed = false;
  let stopped = false;
  let wake: (() => void) | undefined;

  async function deliver(alarm: MetricAlarm, oldState: string | undefined): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= deliveryAttempts; attempt += 1) {
      try {
        const context = createLambdaContext(options.functionName, options.timeoutSeconds);
        const event = snsEvent(options.topicArn, alarm, oldState);
        await inInvocation(context.awsRequestId, () => options.handler(event, context));
        options.onDelivered?.(alarm.AlarmName ?? '', alarm.StateValue ?? '');
        return;
      } catch (error) {
        lastError = error;
        if (attempt < deliveryAttempts) await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
      }
    }
    options.onError(lastError);
  }

  async function poll(): Promise<void> {
    const changed: { alarm: MetricAlarm; oldState: string | undefined }[] = [];
    for await (const page of paginateDescribeAlarms(
      { client: cloudWatch },
      { AlarmTypes: ['MetricAlarm'] },
    )) {
      for (const alarm of page.MetricAlarms ?? []) {
        const name = alarm.AlarmName ?? '';
        const at = alarm.StateUpdatedTimestamp?.getTime() ?? 0;
        const before = seen.get(name);
        seen.set(name, { state: alarm.StateValue, at });
        if (!primed || (before !== undefined && before.at === at)) continue;
        if (actionsOf(alarm).includes(options.topicArn)) changed.push({ alarm, oldState: before?.state });
      }
    }
    primed = true;
    for (const { alarm, oldState } of changed) await deliver(alarm, oldState);
  }

  const loop = (async () => {
    while (!stopped) {
      try {
        await poll();
      } catch (error) {
        options.onError(error);
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.intervalMs ?? 1_000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();

  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      cloudWatch.destroy();
    },
  };
}
