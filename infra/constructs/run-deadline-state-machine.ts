import { DefinitionBody, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { runDeadlineStateMachineDefinition } from '../resources/definitions.ts';

export type RunDeadlineStateMachineProps = { stateMachineName: string; stepQueue: IQueue };

/** The placeholder `runDeadlineStateMachineDefinition` uses for the step queue's URL. */
const stepQueueUrlSubstitution = 'StepQueueUrl';

/**
 * The run-deadline state machine from its shared ASL definition; CloudFormation substitutes the
 * step queue's URL, as the local provisioner does, and its role may only send to that queue.
 */
export class RunDeadlineStateMachine extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: RunDeadlineStateMachineProps) {
    super(scope, id);
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(JSON.stringify(runDeadlineStateMachineDefinition)),
      definitionSubstitutions: { [stepQueueUrlSubstitution]: props.stepQueue.queueUrl },
    });
    props.stepQueue.grantSendMessages(this.stateMachine);
  }
}
