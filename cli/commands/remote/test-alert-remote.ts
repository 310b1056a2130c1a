import { CloudWatchClient, paginateDescribeAlarms, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import type { MetricAlarm, StateValue } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { z } from 'zod';
import { alertSentLogMessage } from '../../../functions/alert-notifier/alert-handler.ts';
import { testAlertReason } from '../../../functions/alert-notifier/schemas/alarm-message.ts';
import type { CheckRecord } from '../../reports/operator-report.ts';
import type { RemoteContext } from './remote-context.ts';

/** How long the e-mail may take to be confirmed: CloudWatch Logs shows a line within seconds to a minute. */
const confirmTimeoutMs = { aws: 120_000, emulator: 30_000 };

/** What confirmed that the notifier sent the test alert. */
type Confirmation = { messageId: string; where: string };

/** A line the notifier logged (Powertools JSON): the fields the check reads. */
const NotifierLogLineSchema = z.looseObject({
  message: z.string(),
  test_id: z.string().optional(),
  message_id: z.string().optional(),
  attempts: z.number().optional(),
  error: z.looseObject({ message: z.string() }).optional(),
});

/** moto's record of the raw e-mails SES sent (`/moto-api/data.json`, `ses.RawMessage`). */
const MotoDataSchema = z.looseObject({
  ses: z
    .looseObject({
      RawMessage: z.array(z.looseObject({ id: z.string(), raw_data: z.string() })).default([]),
    })
    .optional(),
});

/** The node's alarms that publish to its alarm topic when they fire. */
async function alarmsOnTopic(cloudWatch: CloudWatchClient, stage: string, topicArn: string) {
  const alarms: MetricAlarm[] = [];
  for await (const page of paginateDescribeAlarms(
    { client: cloudWatch },
    { AlarmNamePrefix: `agentos-${stage}-`, AlarmTypes: ['MetricAlarm'] },
  ))
    alarms.push(
      ...(page.MetricAlarms ?? []).filter((alarm) => (alarm.AlarmActions ?? []).includes(topicArn)),
    );
  return alarms;
}

/** The SES message moto recorded whose content names the test id. */
async function motoSesMessage(endpoint: string, testId: string): Promise<Confirmation | undefined> {
  const answer = await fetch(new URL('/moto-api/data.json', endpoint), {
    signal: AbortSignal.timeout(5_000),
  });
  if (!answer.ok) throw new Error(`the emulator's /moto-api/data.json answered ${answer.status}`);
  const data = MotoDataSchema.parse(await answer.json());
  const found = (data.ses?.RawMessage ?? []).find((message) => message.raw_data.includes(testId));
  return found === undefined ? undefined : { messageId: found.id, where: "the emulator's SES record" };
}

/** Pages of the notifier's log one look reads before the next poll tries again. */
const maxLogPages = 10;

/**
 * The notifier's log line about the test alert: sent (its message id), or not sent (its error,
 * thrown); `undefined` while neither is in the log.
 */
export async function notifierLogLine(
  logs: CloudWatchLogsClient,
  logGroupName: string,
  testId: string,
  sinceMs: number,
): Promise<Confirmation | undefined> {
  // FilterLogEvents may answer a page with no events and a token for more: follow a few pages.
  const events: { message?: string | undefined }[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < maxLogPages; page += 1) {
    const answer = await logs.send(
      new FilterLogEventsCommand({
        logGroupName,
        filterPattern: `"${testId}"`,
        startTime: sinceMs,
        ...(nextToken === undefined ? {} : { nextToken }),
      }),
    );
    events.push(...(answer.events ?? []));
    nextToken = answer.nextToken;
    if (nextToken === undefined || events.length > 0) break;
  }
  for (const event of events) {
    let line: z.infer<typeof NotifierLogLineSchema>;
    try {
      line = NotifierLogLineSchema.parse(JSON.parse(event.message ?? ''));
    } catch {
      continue;
    }
    if (line.test_id !== testId) continue;
    if (line.message === alertSentLogMessage && line.message_id !== undefined)
      return { messageId: line.message_id, where: `the notifier's log ${logGroupName}` };
    if (line.error !== undefined)
      throw new Error(`the notifier could not send the test alert: ${line.error.message}`);
  }
  return undefined;
}

/**
 * `agentos validate --test-alert` against a deployed node (HLD §9.3): sets one of the node's alarms
 * that publishes to its alarm topic (one not in ALARM, so the change runs its actions) to ALARM with
 * the test alert's reason, so the alert travels the whole way a real one does: the alarm's action,
 * the topic, the notifier (which sends a test alert whatever its dedup holds) and SES or the relay.
 * It then waits for the proof that the notifier sent it: the SES message moto recorded on an
 * emulator, the notifier's `alert e-mail sent` log line with the message id on AWS. The alarm is
 * set back to its previous state afterwards (CloudWatch would re-evaluate it at its next period
 * anyway). The check's detail has the alarm, the message id and both timings.
 */
export async function remoteTestAlert(
  context: RemoteContext,
  outputs: Record<string, string>,
): Promise<CheckRecord> {
  const started = Date.now();
  const name = 'alert e-mail';
  const cloudWatch = new CloudWatchClient(context.client);
  const logs = new CloudWatchLogsClient(context.client);
  let restore: { alarm: string; state: StateValue } | undefined;
  const testId = crypto.randomUUID();
  try {
    const topicArn = outputs['AlarmTopicArn'];
    const logGroup = outputs['AlertNotifierLogGroupName'];
    if (topicArn === undefined || logGroup === undefined)
      throw new Error(
        `the stack ${context.stackName} has no alert notifier (no AlarmTopicArn or AlertNotifierLogGroupName output): run \`agentos up\` to deploy it`,
      );
    const alarms = await alarmsOnTopic(cloudWatch, context.target.stage, topicArn);
    const alarm = alarms.find((candidate) => candidate.StateValue !== 'ALARM');
    if (alarm?.AlarmName === undefined)
      throw new Error(
        alarms.length === 0
          ? `no alarm of stage "${context.target.stage}" publishes to ${topicArn}`
          : 'every alarm of the node is in ALARM, so none can carry a test alert now (a change to ALARM is what runs the action)',
      );
    const emulator = context.target.kind === 'endpoint' ? context.target.endpoint : undefined;
    const setAt = Date.now();
    await cloudWatch.send(
      new SetAlarmStateCommand({
        AlarmName: alarm.AlarmName,
        StateValue: 'ALARM',
        StateReason: testAlertReason(testId),
      }),
    );
    restore = { alarm: alarm.AlarmName, state: alarm.StateValue ?? 'INSUFFICIENT_DATA' };
    const timeoutMs = emulator === undefined ? confirmTimeoutMs.aws : confirmTimeoutMs.emulator;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const confirmed =
        emulator !== undefined
          ? await motoSesMessage(emulator, testId)
          : await notifierLogLine(logs, logGroup, testId, setAt - 60_000);
      if (confirmed !== undefined) {
        const total = Date.now() - started;
        return {
          name,
          outcome: 'ok',
          duration_ms: total,
          detail:
            `test alert ${testId}: alarm ${alarm.AlarmName} set to ALARM after ${setAt - started} ms; ` +
            `the notifier's e-mail (message id ${confirmed.messageId}) confirmed in ${confirmed.where} ` +
            `${Date.now() - setAt} ms later (${total} ms in all)`,
        };
      }
      if (Date.now() > deadline)
        throw new Error(
          `alarm ${alarm.AlarmName} was set to ALARM but no e-mail of test alert ${testId} was confirmed within ${timeoutMs} ms` +
            (emulator === undefined
              ? ` (look in ${logGroup} and at the topic's subscription)`
              : ' (is the artifact host running? see its log)'),
        );
      await new Promise((resolve) => setTimeout(resolve, emulator === undefined ? 3_000 : 250));
    }
  } catch (error) {
    return {
      name,
      outcome: 'failed',
      duration_ms: Date.now() - started,
      detail: error instanceof Error ? error.message : String(error),
    };
  } finally {
    if (restore !== undefined) {
      await cloudWatch
        .send(
          new SetAlarmStateCommand({
            AlarmName: restore.alarm,
            StateValue: restore.state,
            StateReason: `${testAlertReason(testId)} is over: back to ${restore.state} until the next evaluation`,
          }),
        )
        .catch((error: unknown) => {
          context.report.notes.push(
            `Setting ${restore?.alarm ?? 'the alarm'} back to ${restore?.state ?? 'its state'} failed (${error instanceof Error ? error.message : String(error)}); CloudWatch re-evaluates it at its next period`,
          );
        });
    }
    cloudWatch.destroy();
    logs.destroy();
  }
}
