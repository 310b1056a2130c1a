import { Aws, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { LambdaSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { alertNotifierEnv } from '../../functions/alert-notifier/composition/alert-notifier-config.ts';
import type { AlertSettings } from '../config/node-settings.ts';

/**
 * The environment of the alert notifier (its contract: functions/alert-notifier/composition). No
 * recipient configured sends to the sender itself, which SES has verified even in the sandbox.
 */
export function alertNotifierEnvironment(
  nodeId: string,
  tableName: string,
  alerts: AlertSettings,
): Record<string, string> {
  const recipients = alerts.recipients.length === 0 ? [alerts.sender] : alerts.recipients;
  return alertNotifierEnv.render({
    AGENTOS_TABLE_NAME: tableName,
    AGENTOS_NODE_ID: nodeId,
    AGENTOS_ALERT_SENDER: alerts.sender,
    AGENTOS_ALERT_RECIPIENTS: recipients.join(','),
    AGENTOS_ALERT_WINDOW_MS: String(alerts.windowMinutes * 60_000),
    ...(alerts.smtp === undefined
      ? { AGENTOS_ALERT_TRANSPORT: 'ses' }
      : {
          AGENTOS_ALERT_TRANSPORT: 'smtp',
          AGENTOS_ALERT_SMTP_HOST: alerts.smtp.host,
          AGENTOS_ALERT_SMTP_PORT: String(alerts.smtp.port),
          AGENTOS_ALERT_SMTP_SECURE: String(alerts.smtp.secure),
          ...(alerts.smtp.credentialsSecretArn === undefined
            ? {}
            : { AGENTOS_ALERT_SMTP_SECRET_ARN: alerts.smtp.credentialsSecretArn }),
        }),
  });
}

/** What {@link AlertNotifierWiring} connects. */
export type AlertNotifierWiringProps = {
  notifier: LambdaFunction;
  topic: ITopic;
  table: Table;
  alerts: AlertSettings;
};

/**
 * Connects the alert notifier (HLD §9.3): subscribed to the node's alarm topic, and allowed what its
 * composition root uses and nothing else: the dedup's conditional put and delete on the node's
 * alert keys only, sending as the alert sender through SES, and reading the one SMTP credentials
 * secret when a relay is configured.
 */
export class AlertNotifierWiring extends Construct {
  constructor(scope: Construct, id: string, props: AlertNotifierWiringProps) {
    super(scope, id);
    const { notifier, topic, table, alerts } = props;
    const subscription = topic.addSubscription(new LambdaSubscription(notifier));
    Validations.of(subscription).acknowledge({
      id: 'Serverless-SNSRedrivePolicy',
      reason:
        'SNS hands an alarm to Lambda as an asynchronous invocation, which Lambda accepts and queues itself; ' +
        'a failed run of the notifier is retried by Lambda, logged and counted (AlertsFailed), so an SQS ' +
        'redrive queue would only hold deliveries Lambda refused outright, and the alarm stays visible in ALARM.',
    });
    // The dedup (functions/shared/observability/adapters/dynamo-alert-dedup.ts) writes only items
    // under `node/alerts/`, with a conditional put and a conditional delete.
    notifier.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['node/alerts/*'] } },
      }),
    );
    if (alerts.smtp === undefined) {
      const domain = alerts.sender.slice(alerts.sender.indexOf('@') + 1);
      const identity = (name: string) =>
        `arn:${Aws.PARTITION}:ses:${Aws.REGION}:${Aws.ACCOUNT_ID}:identity/${name}`;
      // The sender is verified as an address or through its domain; SES authorizes either identity.
      notifier.addToRolePolicy(
        new PolicyStatement({
          actions: ['ses:SendEmail', 'ses:SendRawEmail'],
          resources: [identity(alerts.sender), identity(domain)],
        }),
      );
    } else if (alerts.smtp.credentialsSecretArn !== undefined) {
      Secret.fromSecretCompleteArn(this, 'SmtpCredentials', alerts.smtp.credentialsSecretArn).grantRead(
        notifier,
      );
    }
  }
}

/** Why the notifier has no Lambda dead-letter queue (the function's construct acknowledges it). */
export const alertNotifierDeadLetterReason =
  'Invoked asynchronously by the alarm topic: Lambda retries a failed delivery twice, and every ' +
  'failure is logged and counted (AlertsFailed) before it is thrown; the alarm itself stays in ALARM ' +
  'on the dashboard, so a lost e-mail never hides the condition.';
