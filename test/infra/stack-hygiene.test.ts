import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnResource } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../infra/build/bundle-layout.ts';
import { apiRoutes, functionDefinitions } from '../../infra/resources/definitions.ts';
import type { AgentOsNodeStack } from '../../infra/stacks/agentos-node-stack.ts';
import { functionResource, resourcesOfType, synthesizeNodeStack } from './node-template.ts';

/** Where `bash cli/bootstrap.sh` installs the pinned cfn-lint (cli/lint-requirements.txt). */
const cfnLint = join(repositoryRoot, '.toolchain', 'venv', 'bin', 'cfn-lint');

/** API Gateway's integration timeout for buffered (non-streaming) REST API responses. */
const apiGatewayBufferedTimeoutSeconds = 29;

/**
 * The actions that support no resource-level permissions, and so the only ones the node grants on
 * Resource "*": X-Ray tracing, and Step Functions' delivery of execution logs. The roles'
 * `AwsSolutions-IAM5[Resource::*]` acknowledgements rely on this.
 */
const resourcelessActions = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
]);

type PolicyStatement = { Action?: string | string[]; Resource?: unknown };

/** Every cdk-nag finding that no acknowledgement covers, one `severity rule at path` line each. */
function nagFindings(stack: AgentOsNodeStack): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(stack)
      .violations.flatMap((violation) =>
        violation.violatingResources.map(
          (resource) =>
            `${violation.severity ?? 'error'} ${violation.ruleName} at ${resource.constructPath ?? '?'}`,
        ),
      ),
  );
}

/** Runs a program; resolves its exit code and its whole output, never rejects on a non-zero exit. */
function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, output: stdout + stderr });
    });
  });
}

describe('the node stack hygiene', () => {
  let stack: AgentOsNodeStack;
  let template: Template;

  beforeAll(async () => {
    ({ stack, template } = await synthesizeNodeStack());
  });

  it('passes the cdk-nag AwsSolutions and Serverless packs with every exception acknowledged', () => {
    // The whole list, so a failure names each rule and the construct it fired on.
    expect(nagFindings(stack)).toEqual([]);
  });

  it('grants Resource "*" only to actions that support no resource-level permissions', () => {
    const wildcardActions = Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
      .flatMap(
        (policy) => (policy.Properties?.['PolicyDocument'] as { Statement: PolicyStatement[] }).Statement,
      )
      .filter((statement) => [statement.Resource].flat().includes('*'))
      .flatMap((statement) => [statement.Action ?? []].flat());
    expect(wildcardActions.filter((action) => !resourcelessActions.has(action))).toEqual([]);
  });

  it('passes cfn-lint on the synthesized template', async () => {
    expect(
      existsSync(cfnLint),
      `cfn-lint is not installed at ${cfnLint}: run \`bash cli/bootstrap.sh test\``,
    ).toBe(true);
    const file = join(await mkdtemp(join(tmpdir(), 'agentos-cfn-lint-')), 'node.template.json');
    await writeFile(file, JSON.stringify(template.toJSON(), null, 2));
    // The whole result, so a failure shows every cfn-lint finding.
    expect(await run(cfnLint, [file])).toEqual({ code: 0, output: '' });
  });

  it('lets a step finish before its message is redelivered: visibility is at least 6× the worker timeout', () => {
    // Read from the template: the deployed values, whatever the definitions say. Both queues the
    // worker consumes (steps and deadlines).
    for (const queue of [stack.stepQueue, stack.deadlineQueue]) {
      const queueId = stack.getLogicalId(queue.node.defaultChild as CfnResource);
      const visibility = resourcesOfType(template, 'AWS::SQS::Queue')[queueId]?.Properties?.[
        'VisibilityTimeout'
      ];
      const workerTimeout = functionResource(stack, template, 'stepWorker').Properties?.['Timeout'];
      expect(typeof visibility).toBe('number');
      expect(visibility as number).toBeGreaterThanOrEqual(6 * (workerTimeout as number));
    }
  });

  it('lets a settlement write finish before its message is redelivered: visibility exceeds the worker timeout', () => {
    const queueId = stack.getLogicalId(stack.settlementQueue.node.defaultChild as CfnResource);
    const visibility = resourcesOfType(template, 'AWS::SQS::Queue')[queueId]?.Properties?.[
      'VisibilityTimeout'
    ];
    const workerTimeout = functionResource(stack, template, 'settlementWorker').Properties?.['Timeout'];
    expect(typeof visibility).toBe('number');
    expect(visibility as number).toBeGreaterThan(workerTimeout as number);
  });

  it('stops every buffered API function before API Gateway gives up on it', () => {
    const buffered = [
      ...new Set(
        Object.values(apiRoutes)
          .flat()
          .map((route) => route.function),
      ),
    ].filter((name) => !functionDefinitions[name].streaming);
    expect(buffered.length).toBeGreaterThan(0);
    for (const name of buffered) {
      const timeout = functionResource(stack, template, name).Properties?.['Timeout'];
      expect(timeout as number).toBeLessThan(apiGatewayBufferedTimeoutSeconds);
    }
  });

  it('bounds how many workers the step, deadline and settlement queues can run at once', () => {
    const mappings = Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(3);
    for (const mapping of mappings) {
      expect(mapping.Properties?.['ScalingConfig']).toMatchObject({
        MaximumConcurrency: expect.any(Number) as unknown,
      });
    }
  });

  it('traces every function, the state machine and both API stages', () => {
    for (const fn of Object.values(stack.functions)) {
      const resource = resourcesOfType(template, 'AWS::Lambda::Function')[
        stack.getLogicalId(fn.node.defaultChild as CfnResource)
      ];
      expect(resource?.Properties?.['TracingConfig']).toEqual({ Mode: 'Active' });
    }
    for (const machine of Object.values(resourcesOfType(template, 'AWS::StepFunctions::StateMachine'))) {
      expect(machine.Properties?.['TracingConfiguration']).toEqual({ Enabled: true });
    }
    for (const stage of Object.values(resourcesOfType(template, 'AWS::ApiGateway::Stage'))) {
      expect(stage.Properties?.['TracingEnabled']).toBe(true);
    }
  });
});
