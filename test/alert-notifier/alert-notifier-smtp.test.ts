import type { AddressInfo } from 'node:net';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSEvent } from 'aws-lambda';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeAlertNotifier } from '../../functions/alert-notifier/composition/alert-notifier-root.ts';
import { testAlertReason } from '../../functions/alert-notifier/schemas/alarm-message.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

/** An SMTP relay that takes mail only after AUTH with one user, recording what it took. */
const received: { user: string | undefined; data: string }[] = [];
const relay = new SMTPServer({
  disabledCommands: ['STARTTLS'],
  allowInsecureAuth: true,
  onAuth(auth, _session, callback) {
    if (auth.username === 'relay-user' && auth.password === 'relay-pass')
      callback(null, { user: auth.username });
    else callback(new Error('535 authentication failed'));
  },
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      received.push({
        user: session.user as string | undefined,
        data: Buffer.concat(chunks).toString('utf8'),
      });
      callback();
    });
  },
});

let env: Record<string, string>;

beforeAll(async () => {
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const { nodeId, resources } = await provisionTestNode('alerts-smtp');
  const secrets = new SecretsManagerClient(testAwsConfig());
  const secret = await secrets.send(
    new CreateSecretCommand({
      Name: `agentos/${nodeId}/alerts/smtp`,
      SecretString: JSON.stringify({ user: 'relay-user', pass: 'relay-pass' }),
    }),
  );
  secrets.destroy();
  env = {
    ...(process.env as Record<string, string>),
    AGENTOS_TABLE_NAME: resources.tableName,
    AGENTOS_NODE_ID: nodeId,
    AGENTOS_ALERT_SENDER: 'alerts@example.com',
    AGENTOS_ALERT_RECIPIENTS: 'ops@example.com',
    AGENTOS_ALERT_TRANSPORT: 'smtp',
    AGENTOS_ALERT_SMTP_HOST: '127.0.0.1',
    AGENTOS_ALERT_SMTP_PORT: String((relay.server.address() as AddressInfo).port),
    AGENTOS_ALERT_SMTP_SECRET_ARN: secret.ARN ?? '',
  };
});

afterAll(async () => {
  await new Promise<void>((resolve) => relay.close(() => resolve()));
});

function snsEvent(alarmName: string, reason: string): SNSEvent {
  const message = JSON.stringify({
    AlarmName: alarmName,
    NewStateValue: 'ALARM',
    NewStateReason: reason,
    StateChangeTime: '2026-12-04T18:01:02.345+0000',
  });
  return { Records: [{ Sns: { Message: message } }] } as unknown as SNSEvent;
}

describe('the alert notifier over an SMTP relay', () => {
  it('returns sent after authenticating with the credentials read from Secrets Manager, once per window', async () => {
    const { handler } = composeAlertNotifier(env);
    const alarm = `agentos-${env['AGENTOS_NODE_ID']}-dlq_not_empty`;
    const first = await handler(snsEvent(alarm, 'Threshold Crossed: 1 datapoint [2.0 (x)]'));
    expect(first.records).toEqual([expect.objectContaining({ outcome: 'sent', alarm: 'dlq_not_empty' })]);
    const again = await handler(snsEvent(alarm, 'Threshold Crossed: 1 datapoint [3.0 (x)]'));
    expect(again.records).toEqual([{ outcome: 'deduplicated', alarm: 'dlq_not_empty' }]);
    const testId = crypto.randomUUID();
    const test = await handler(snsEvent(alarm, testAlertReason(testId)));
    expect(test.records).toEqual([expect.objectContaining({ outcome: 'sent', testId })]);
    expect(received.map((mail) => mail.user)).toEqual(['relay-user', 'relay-user']);
    expect(received[0]?.data).toContain('Subject: [AgentOS');
    // Header names are case-insensitive; nodemailer normalises their case.
    expect(received[1]?.data.toLowerCase()).toContain(`x-agentos-test-id: ${testId}`);
    expect(received.map((mail) => mail.data).join('\n')).not.toContain('relay-pass');
  });

  it('throws when the relay refuses the credentials, with the relay error and no credential in it', async () => {
    const secrets = new SecretsManagerClient(testAwsConfig());
    const wrong = await secrets.send(
      new CreateSecretCommand({
        Name: `agentos/${env['AGENTOS_NODE_ID']}/alerts/wrong`,
        SecretString: JSON.stringify({ user: 'relay-user', pass: 'not-the-pass' }),
      }),
    );
    secrets.destroy();
    const { handler } = composeAlertNotifier({
      ...env,
      AGENTOS_ALERT_SMTP_SECRET_ARN: wrong.ARN ?? '',
      AGENTOS_ALERT_MAX_ATTEMPTS: '1',
    });
    const failure = await handler(
      snsEvent(`agentos-${env['AGENTOS_NODE_ID']}-service_down`, 'Threshold Crossed: [0.0 (x)]'),
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(String((failure as Error).message)).toMatch(/535|auth/i);
    expect(String((failure as Error).message)).not.toContain('not-the-pass');
  });
});
