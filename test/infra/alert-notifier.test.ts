import type { CfnResource } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { alertNotifierConfigFromEnv } from '../../functions/alert-notifier/composition/alert-notifier-config.ts';
import { contextKeys } from '../../infra/config/node-settings.ts';
import type { AgentOsNodeStack } from '../../infra/stacks/agentos-node-stack.ts';
import { environmentOf, functionResource, resourcesOfType, synthesizeNodeStack } from './node-template.ts';

const smtpSecretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:agentos/main/alerts/smtp-AbCdEf';

function logicalId(stack: AgentOsNodeStack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnResource);
}

/** The statements of the notifier role's policies. */
function notifierStatements(stack: AgentOsNodeStack, template: Template): Record<string, unknown>[] {
  const roleId = logicalId(stack, stack.functions.alertNotifier.role as never);
  return Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties?.['Roles']).includes(`"${roleId}"`))
    .flatMap(
      (policy) =>
        (policy.Properties?.['PolicyDocument'] as { Statement: Record<string, unknown>[] }).Statement,
    );
}

function actionsOf(statement: Record<string, unknown>): string[] {
  const action = statement['Action'];
  return Array.isArray(action) ? (action as string[]) : [action as string];
}

describe('the alert notifier in the node stack', () => {
  let stack: AgentOsNodeStack;
  let template: Template;

  beforeAll(async () => {
    ({ stack, template } = await synthesizeNodeStack({
      [contextKeys.alertRecipients]: 'ops@example.com,oncall@example.com',
    }));
  });

  it('subscribes the notifier function to the alarm topic, which may invoke it', () => {
    const topicId = logicalId(stack, stack.alarms.topic);
    const functionId = logicalId(stack, stack.functions.alertNotifier);
    const subscriptions = Object.values(resourcesOfType(template, 'AWS::SNS::Subscription'));
    expect(subscriptions.map((subscription) => subscription.Properties)).toEqual([
      { Protocol: 'lambda', TopicArn: { Ref: topicId }, Endpoint: { 'Fn::GetAtt': [functionId, 'Arn'] } },
    ]);
    const permissions = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission')).filter(
      (permission) => permission.Properties?.['Principal'] === 'sns.amazonaws.com',
    );
    expect(permissions.map((permission) => permission.Properties)).toEqual([
      expect.objectContaining({
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [functionId, 'Arn'] },
        SourceArn: { Ref: topicId },
      }),
    ]);
  });

  it('gives the notifier an environment its contract accepts: SESv2, the node, sender and recipients', () => {
    const environment = environmentOf(functionResource(stack, template, 'alertNotifier'));
    const literal = Object.fromEntries(
      Object.entries(environment).map(([name, value]) => [
        name,
        typeof value === 'string' ? value : 'agentos-x',
      ]),
    );
    expect(alertNotifierConfigFromEnv(literal)).toMatchObject({
      nodeId: 'main',
      sender: 'alerts@agentos.local',
      recipients: ['ops@example.com', 'oncall@example.com'],
      windowMs: 3_600_000,
      transport: { kind: 'ses' },
    });
  });

  it('lets the notifier send as the alert sender, write only alert dedup keys, and read no secret', () => {
    const statements = notifierStatements(stack, template);
    const ses = statements.filter((statement) => actionsOf(statement).some((a) => a.startsWith('ses:')));
    expect(ses).toHaveLength(1);
    expect(actionsOf(ses[0]!).sort()).toEqual(['ses:SendEmail', 'ses:SendRawEmail']);
    expect(JSON.stringify(ses[0]!['Resource'])).toContain(':identity/alerts@agentos.local');
    const dynamo = statements.filter((statement) =>
      actionsOf(statement).some((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamo).toEqual([
      expect.objectContaining({
        Action: ['dynamodb:DeleteItem', 'dynamodb:PutItem'],
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['node/alerts/*'] } },
      }),
    ]);
    expect(JSON.stringify(statements)).not.toContain('secretsmanager:');
  });

  it('reads the one SMTP credentials secret and sends no SES API mail when a relay is configured', async () => {
    const relay = await synthesizeNodeStack({
      [contextKeys.alertSmtpHost]: 'email-smtp.us-east-1.amazonaws.com',
      [contextKeys.alertSmtpPort]: '465',
      [contextKeys.alertSmtpSecretArn]: smtpSecretArn,
    });
    const statements = notifierStatements(relay.stack, relay.template);
    const secrets = statements.filter((statement) =>
      actionsOf(statement).some((a) => a.startsWith('secretsmanager:')),
    );
    expect(secrets.map((statement) => statement['Resource'])).toEqual([smtpSecretArn]);
    expect(JSON.stringify(statements)).not.toContain('ses:');
    const environment = environmentOf(functionResource(relay.stack, relay.template, 'alertNotifier'));
    expect(environment).toMatchObject({
      AGENTOS_ALERT_TRANSPORT: 'smtp',
      AGENTOS_ALERT_SMTP_HOST: 'email-smtp.us-east-1.amazonaws.com',
      AGENTOS_ALERT_SMTP_PORT: '465',
      AGENTOS_ALERT_SMTP_SECURE: 'true',
      AGENTOS_ALERT_SMTP_SECRET_ARN: smtpSecretArn,
    });
  });

  it("outputs the notifier's log group, where validate --test-alert reads that the e-mail was sent", () => {
    const logGroupId = logicalId(stack, stack.functions.alertNotifier.logGroup as never);
    expect(template.toJSON()['Outputs']['AlertNotifierLogGroupName']).toEqual({ Value: { Ref: logGroupId } });
  });

  it('throws at synth when a recipient is not an e-mail address', async () => {
    await expect(synthesizeNodeStack({ [contextKeys.alertRecipients]: 'ops' })).rejects.toThrow(
      contextKeys.alertRecipients,
    );
  });
});
