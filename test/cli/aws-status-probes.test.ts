import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeStatus } from '../../cli/aws/status-probes.ts';
import type { RemoteTarget } from '../../cli/aws/target.ts';
import { startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';
import { nodeStackName } from '../../infra/node-app.ts';
import { resourceNames } from '../../infra/resources/definitions.ts';

/**
 * `agentos status` probes against a private moto (its CloudWatch metrics must not meet other
 * tests'). A stand-in for the node stack gives the probes what they read: the queue URL outputs,
 * the API URL outputs and a named REST API.
 */
let moto: EmulatorHandle;
let endpoint: string;
const region = 'us-east-1';
const keys = { accessKeyId: 'test', secretAccessKey: 'test' };

beforeAll(async () => {
  moto = await startMoto();
  endpoint = moto.endpoint.replace('127.0.0.1', 'localhost');
});

afterAll(async () => {
  await moto.stop();
});

function target(stage: string): RemoteTarget {
  return { kind: 'endpoint', stage, region, endpoint };
}

/**
 * Creates a stack shaped like the node stack where the probes look, and returns its queue URLs;
 * `settlements: false` leaves out the settlement DLQ, as a stack deployed before it.
 */
async function deployStandIn(
  stage: string,
  { settlements = true } = {},
): Promise<{ stepQueueUrl: string; deadLetterQueueUrl: string; settlementDeadLetterQueueUrl: string }> {
  const names = resourceNames(stage);
  const settlementDlq = {
    Resources: {
      SettlementDeadLetterQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: { QueueName: names.settlementDeadLetterQueue },
      },
    },
    Outputs: { SettlementDeadLetterQueueUrl: { Value: { Ref: 'SettlementDeadLetterQueue' } } },
  };
  const template = {
    Resources: {
      StepQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: names.stepQueue } },
      StepDeadLetterQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: names.stepDeadLetterQueue } },
      OrchestratorApi: {
        Type: 'AWS::ApiGateway::RestApi',
        Properties: { Name: `agentos-${stage}-orchestrator` },
      },
      ...(settlements ? settlementDlq.Resources : {}),
    },
    Outputs: {
      StepQueueUrl: { Value: { Ref: 'StepQueue' } },
      StepDeadLetterQueueUrl: { Value: { Ref: 'StepDeadLetterQueue' } },
      OrchestratorApiUrl: { Value: `https://orchestrator.example.test/${stage}/` },
      ...(settlements ? settlementDlq.Outputs : {}),
    },
  };
  const cloudFormation = new CloudFormationClient({ region, endpoint, credentials: keys });
  await cloudFormation.send(
    new CreateStackCommand({ StackName: nodeStackName(stage), TemplateBody: JSON.stringify(template) }),
  );
  cloudFormation.destroy();
  const account = '123456789012';
  return {
    stepQueueUrl: `https://sqs.${region}.amazonaws.com/${account}/${names.stepQueue}`,
    deadLetterQueueUrl: `https://sqs.${region}.amazonaws.com/${account}/${names.stepDeadLetterQueue}`,
    settlementDeadLetterQueueUrl: `https://sqs.${region}.amazonaws.com/${account}/${names.settlementDeadLetterQueue}`,
  };
}

async function send(queueUrl: string, count: number): Promise<void> {
  const sqs = new SQSClient({ region, endpoint, credentials: keys });
  for (let index = 0; index < count; index += 1)
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `{"n":${index}}` }));
  sqs.destroy();
}

describe('probeStatus', () => {
  it('returns "not deployed" and skips the other probes when the stack does not exist', async () => {
    const status = await probeStatus(target('absent'), nodeStackName('absent'));
    expect(status.stack).toMatchObject({ outcome: 'failed', value: { deployed: false } });
    expect(status.stack.detail).toContain('not deployed: there is no stack AgentOS-absent in us-east-1');
    for (const probe of [
      status.stepQueue,
      status.deadLetterQueue,
      status.settlementDeadLetterQueue,
      status.apiErrors,
    ])
      expect(probe).toMatchObject({ outcome: 'skipped', detail: 'the stack is not deployed' });
    expect(status.checks.map((check) => check.name)).toEqual([
      'stack',
      'step queue',
      'step dead-letter queue',
      'settlement dead-letter queue',
      'api 5xx',
    ]);
  });

  it('returns the stack status, its endpoints and the step queue depth, with no datapoints said so', async () => {
    const stage = 'depth';
    const { stepQueueUrl } = await deployStandIn(stage);
    await send(stepQueueUrl, 2);
    const status = await probeStatus(target(stage), nodeStackName(stage));
    expect(status.stack).toMatchObject({
      outcome: 'ok',
      value: { deployed: true, status: 'CREATE_COMPLETE' },
    });
    expect(status.endpoints).toEqual({ OrchestratorApiUrl: `https://orchestrator.example.test/${stage}/` });
    expect(status.stepQueue).toMatchObject({
      outcome: 'ok',
      value: {
        queueName: 'agentos-depth-steps',
        visible: 2,
        inFlight: 0,
        oldestMessageAgeSeconds: 'no datapoints',
      },
    });
    expect(status.stepQueue.detail).toContain('2 waiting, 0 in flight; oldest message age: no datapoints');
    expect(status.deadLetterQueue).toMatchObject({ outcome: 'ok', value: { visible: 0, inFlight: 0 } });
    expect(status.settlementDeadLetterQueue).toMatchObject({
      outcome: 'ok',
      value: { queueName: 'agentos-depth-settlements-dlq', visible: 0, inFlight: 0 },
    });
    expect(status.apiErrors).toMatchObject({
      outcome: 'ok',
      value: [{ apiName: 'agentos-depth-orchestrator' }],
      detail: 'agentos-depth-orchestrator: no datapoints in the last 60 min',
    });
  });

  it('fails the dead-letter queue probe when it holds messages', async () => {
    const stage = 'dlq';
    const { deadLetterQueueUrl } = await deployStandIn(stage);
    await send(deadLetterQueueUrl, 1);
    const status = await probeStatus(target(stage), nodeStackName(stage));
    expect(status.deadLetterQueue).toMatchObject({ outcome: 'failed', value: { visible: 1 } });
    expect(status.deadLetterQueue.detail).toContain('steps that failed every delivery');
    expect(status.settlementDeadLetterQueue).toMatchObject({ outcome: 'ok', value: { visible: 0 } });
  });

  it('fails the settlement dead-letter queue probe when it holds messages', async () => {
    const stage = 'settle-dlq';
    const { settlementDeadLetterQueueUrl } = await deployStandIn(stage);
    await send(settlementDeadLetterQueueUrl, 2);
    const status = await probeStatus(target(stage), nodeStackName(stage));
    expect(status.settlementDeadLetterQueue).toMatchObject({ outcome: 'failed', value: { visible: 2 } });
    expect(status.settlementDeadLetterQueue.detail).toContain(
      'model call settlements (usage not yet counted) that failed every delivery',
    );
    expect(status.deadLetterQueue).toMatchObject({ outcome: 'ok', value: { visible: 0 } });
  });

  it('skips the settlement dead-letter queue probe when the stack was deployed before it', async () => {
    const stage = 'before-settle';
    await deployStandIn(stage, { settlements: false });
    const status = await probeStatus(target(stage), nodeStackName(stage));
    expect(status.settlementDeadLetterQueue).toMatchObject({
      outcome: 'skipped',
      detail: `${nodeStackName(stage)} has no SettlementDeadLetterQueueUrl output`,
    });
    expect(status.deadLetterQueue.outcome).toBe('ok');
  });

  it("returns the 5xx sums of the stack's APIs over the last 15 and 60 minutes", async () => {
    const stage = 'errors';
    await deployStandIn(stage);
    const now = new Date();
    const cloudWatch = new CloudWatchClient({ region, endpoint, credentials: keys });
    const datum = (value: number, minutesAgo: number) => ({
      MetricName: '5XXError',
      Dimensions: [{ Name: 'ApiName', Value: `agentos-${stage}-orchestrator` }],
      Value: value,
      Timestamp: new Date(now.getTime() - minutesAgo * 60_000),
    });
    await cloudWatch.send(
      new PutMetricDataCommand({ Namespace: 'AWS/ApiGateway', MetricData: [datum(3, 2), datum(4, 30)] }),
    );
    cloudWatch.destroy();
    const status = await probeStatus(target(stage), nodeStackName(stage), { now: () => now });
    expect(status.apiErrors.value).toEqual([
      { apiName: 'agentos-errors-orchestrator', last15Minutes: 3, last60Minutes: 7 },
    ]);
    expect(status.apiErrors.detail).toBe(
      'agentos-errors-orchestrator: 3 in the last 15 min, 7 in the last 60 min',
    );
  });
});
