import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import type { CfnStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { defaultLogRetention } from '../config/node-settings.ts';
import { runDeadlineStateMachineDefinition } from '../resources/definitions.ts';

export type RunDeadlineStateMachineProps = {
  stateMachineName: string;
  stepQueue: IQueue;
  /** The ASL definition, with `${StepQueueUrl}` for the queue; the run deadline's when absent. */
  definition?: object;
  /** How long its execution history log is kept; the node's default when absent. */
  logRetention?: RetentionDays;
  /** What `cdk destroy` does with that log; kept when absent, as a production node's logs are. */
  removalPolicy?: RemovalPolicy;
};

/** The placeholder `runDeadlineStateMachineDefinition` uses for the step queue's URL. */
const stepQueueUrlSubstitution = 'StepQueueUrl';

/**
 * A node state machine that talks to the step queue (the run deadline, or the long-run driver) from
 * its shared ASL definition; CloudFormation substitutes the step queue's URL, as the local
 * provisioner does, and its role may only send to that queue. Every
 * execution is traced with X-Ray and logs all its events, without their input and output, to its
 * own log group.
 */
export class RunDeadlineStateMachine extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: RunDeadlineStateMachineProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', {
      // Step Functions adds every log group it delivers to into the account's CloudWatch Logs
      // resource policy, which has a size limit, unless the name is under /aws/vendedlogs/. The
      // machine's name is unique per stack instance (see the node stack), so a group retained by a
      // deleted node never blocks its next deploy.
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}`,
      retention: props.logRetention ?? defaultLogRetention,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(
        JSON.stringify(props.definition ?? runDeadlineStateMachineDefinition),
      ),
      definitionSubstitutions: { [stepQueueUrlSubstitution]: props.stepQueue.queueUrl },
      // An execution's input is the step message it sends, which carries the run's Auth Context
      // (tenant, principal, scopes): state names and timings show why a deadline fired, a step
      // was retried or a run failed.
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    props.stepQueue.grantSendMessages(this.stateMachine);
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "Execution logging and X-Ray tracing: Step Functions' log delivery actions (logs:CreateLogDelivery, " +
        'logs:PutResourcePolicy, …) and xray:PutTraceSegments support no resource-level permissions, so ' +
        'they need Resource "*"; sending to the step queue names the queue.',
    });
    // CDK makes the state machine depend on its whole role construct: the DependsOn on the role's
    // default policy matters (no execution before it may send and log), and the one on the role
    // itself, which the GetAtt of its ARN already implies, comes along with it.
    (this.stateMachine.node.defaultChild as CfnStateMachine).addMetadata('cfn-lint', {
      config: { ignore_checks: ['W3005'] },
    });
  }
}
