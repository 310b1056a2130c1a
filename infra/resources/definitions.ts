import { stepTaskErrors } from '../../functions/orchestrator/runtime/step-message.ts';

/**
 * The one description of a node's AWS resources. The CDK stack and the local provisioner both build
 * from these values, and a test compares what each produces, so the local node and a deployed node
 * cannot drift apart.
 */

/** The single DynamoDB table of a node (keys: see functions/shared/storage/keys.ts). */
export const tableDefinition = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'N' },
  billingMode: 'PAY_PER_REQUEST',
  timeToLiveAttribute: 'expires_at',
} as const;

/** The step queue, which feeds the step worker, and its dead-letter queue. */
export const stepQueueDefinition = {
  /** Longer than the worker's timeout, so a slow step is not handed to a second worker mid-flight. */
  visibilityTimeoutSeconds: 900,
  messageRetentionSeconds: 4 * 24 * 3600,
  receiveMessageWaitTimeSeconds: 20,
  /** Deliveries before a message moves to the DLQ. */
  maxReceiveCount: 5,
} as const;

export const stepDeadLetterQueueDefinition = {
  messageRetentionSeconds: 14 * 24 * 3600,
} as const;

/**
 * The deadline queue (HLD §4.3 run deadlines, §10.2): a run whose deadline is at most
 * `maxDelaySeconds` away gets it as one message sent with that delay, not a Step Functions
 * execution. It is a queue of its own so that a waiting deadline never counts as step backlog in
 * the step queue's age (the `queue_backlog` alarm). The step worker consumes it like the step
 * queue, and it redrives to the step queue's dead-letter queue after as many receives, so the
 * worker's last-delivery handling and the `dlq_not_empty` alarm cover deadlines too.
 */
export const deadlineQueueDefinition = {
  /** SQS's longest DelaySeconds: a longer deadline goes through the run-deadline state machine. */
  maxDelaySeconds: 900,
  visibilityTimeoutSeconds: stepQueueDefinition.visibilityTimeoutSeconds,
  /** Far beyond the longest delay, so a deadline held up by a worker outage is not lost. */
  messageRetentionSeconds: stepQueueDefinition.messageRetentionSeconds,
  receiveMessageWaitTimeSeconds: stepQueueDefinition.receiveMessageWaitTimeSeconds,
  maxReceiveCount: stepQueueDefinition.maxReceiveCount,
} as const;

/**
 * The settlement queue (HLD §5.3): a model call's settlement that its store would not take after
 * the Model Policy's own bounded retries is handed here, and the settlement worker writes it to the
 * ledger once the table answers again. A settlement applies once however often it is delivered
 * (the ledger's write is conditioned on the call's usage record), so redelivery is safe. One that
 * still waits about ten minutes in fires the `queue_backlog` alarm; one that fails on every receive
 * moves to the dead-letter queue, where the `dlq_not_empty` alarm finds it.
 */
export const settlementQueueDefinition = {
  /**
   * Six times the worker's timeout, as AWS advises for a Lambda event source: a slow or throttled
   * batch is not handed to a second worker mid-flight, and a failed message waits this long.
   */
  visibilityTimeoutSeconds: 360,
  /** SQS's most, stated rather than left to the default: any answer that fits a table item fits. */
  maxMessageSizeBytes: 1024 * 1024,
  /** Longer than the dead-letter path below needs: nothing the queue holds expires first. */
  messageRetentionSeconds: 14 * 24 * 3600,
  receiveMessageWaitTimeSeconds: 20,
  /**
   * Deliveries before a message moves to the DLQ, spaced by the visibility timeout: about five
   * hours of table outage drain by themselves; past that the DLQ keeps them for a redrive until 14
   * days after they were first sent (a standard queue's retention counts from the first send).
   */
  maxReceiveCount: 50,
} as const;

export const settlementDeadLetterQueueDefinition = {
  messageRetentionSeconds: 14 * 24 * 3600,
} as const;

/** Lambda settings that the local node mirrors (batch size, timeouts). */
export const functionDefinitions = {
  orchestratorApi: {
    entry: 'functions/orchestrator/handlers/api.ts',
    memoryMb: 512,
    timeoutSeconds: 25,
    streaming: false,
  },
  orchestratorEvents: {
    entry: 'functions/orchestrator/handlers/events.ts',
    memoryMb: 256,
    timeoutSeconds: 900,
    streaming: true,
  },
  stepWorker: {
    entry: 'functions/orchestrator/handlers/step-worker.ts',
    memoryMb: 512,
    timeoutSeconds: 150,
    streaming: false,
    batchSize: 5,
  },
  modelPolicyApi: {
    entry: 'functions/model-policy/handlers/api.ts',
    memoryMb: 512,
    timeoutSeconds: 900,
    streaming: true,
  },
  /** Writes the settlements handed to the settlement queue to the ledger (HLD §5.3). */
  settlementWorker: {
    entry: 'functions/model-policy/handlers/settlement-worker.ts',
    memoryMb: 256,
    timeoutSeconds: 60,
    streaming: false,
    batchSize: 10,
  },
  /** Mails the node's alarms (HLD §9.3), subscribed to the alarm topic; room for 3 bounded sends. */
  alertNotifier: {
    entry: 'functions/alert-notifier/handlers/sns.ts',
    memoryMb: 256,
    timeoutSeconds: 120,
    streaming: false,
  },
} as const;

export type FunctionName = keyof typeof functionDefinitions;

/**
 * How the REST APIs route to functions: the most specific resource wins, as in API Gateway. The
 * routes that stream (run events, A2A's JSON-RPC, background responses) get their own function.
 */
export const apiRoutes = {
  orchestrator: [
    { resource: '/v1/runs/{run_id}/events', method: 'GET', function: 'orchestratorEvents' },
    // A browser's CORS preflight of the stream: the function's HTTP core answers it (or refuses it).
    { resource: '/v1/runs/{run_id}/events', method: 'OPTIONS', function: 'orchestratorEvents' },
    // A2A's JSON-RPC endpoint answers message/stream and tasks/resubscribe as streams (the method is in the body).
    { resource: '/v1/a2a/{agent_id}', method: 'POST', function: 'orchestratorEvents' },
    { resource: '/v1/a2a/{agent_id}', method: 'OPTIONS', function: 'orchestratorEvents' },
    // A background response is answered with its typed events when asked to (`stream`), on create or retrieve.
    { resource: '/v1/responses', method: 'POST', function: 'orchestratorEvents' },
    { resource: '/v1/responses', method: 'OPTIONS', function: 'orchestratorEvents' },
    { resource: '/v1/responses/{response_id}', method: 'GET', function: 'orchestratorEvents' },
    { resource: '/v1/responses/{response_id}', method: 'OPTIONS', function: 'orchestratorEvents' },
    { resource: '/{proxy+}', method: 'ANY', function: 'orchestratorApi' },
  ],
  modelPolicy: [{ resource: '/{proxy+}', method: 'ANY', function: 'modelPolicyApi' }],
} as const satisfies Record<string, readonly { resource: string; method: string; function: FunctionName }[]>;

/** What an API Gateway gateway response (an answer no function gave) says, in the error envelope. */
export type GatewayResponseDefinition = {
  /** API Gateway's response type. */
  type: 'REQUEST_TOO_LARGE' | 'MISSING_AUTHENTICATION_TOKEN' | 'DEFAULT_5XX';
  /** The status it answers with; absent keeps API Gateway's own (502, 504, …). */
  statusCode?: number;
  code: 'invalid_request' | 'not_found' | 'internal';
  message: string;
};

/**
 * How both REST APIs treat requests before any function sees them. Every body reaches the function
 * base64-encoded (every media type is binary to the API), so the services see the exact bytes and can refuse
 * invalid UTF-8 instead of receiving it silently repaired; answers API Gateway gives itself carry
 * the same error envelope as the services' own.
 */
export const restApiDefinition = {
  binaryMediaTypes: ['*/*'],
  /** API Gateway's payload limit for REST APIs. */
  maxPayloadBytes: 10 * 1024 * 1024,
  gatewayResponses: [
    {
      type: 'REQUEST_TOO_LARGE',
      statusCode: 413,
      code: 'invalid_request',
      message: 'Request body is larger than 10 MB, the most the API accepts',
    },
    {
      type: 'MISSING_AUTHENTICATION_TOKEN',
      statusCode: 404,
      code: 'not_found',
      message: 'No route for this path',
    },
    { type: 'DEFAULT_5XX', code: 'internal', message: 'The service could not answer; retry later' },
  ] as const satisfies readonly GatewayResponseDefinition[],
} as const;

/** The envelope body of a gateway response; `requestId` is API Gateway's `$context.requestId` on AWS. */
export function gatewayResponseBody(response: GatewayResponseDefinition, requestId: string): string {
  return JSON.stringify({
    error: { code: response.code, message: response.message, correlation_id: requestId, details: {} },
  });
}

/**
 * The run-deadline state machine: waits out a run's deadline, then tells the step worker, which fails
 * the run if it is still going. The execution input is `{ timeout_seconds, tenant_id, message }`. `${StepQueueUrl}` is substituted by CDK and by the local provisioner.
 */
export const runDeadlineStateMachineDefinition = {
  Comment: 'AgentOS run deadline: fails runs that outlive their agent timeout',
  StartAt: 'WaitForDeadline',
  States: {
    WaitForDeadline: { Type: 'Wait', SecondsPath: '$.timeout_seconds', Next: 'NotifyStepWorker' },
    NotifyStepWorker: {
      Type: 'Task',
      Resource: 'arn:aws:states:::sqs:sendMessage',
      // The tenant is the message group of an SQS fair queue (HLD §10.2), as for every step message.
      Parameters: {
        QueueUrl: '${StepQueueUrl}',
        'MessageBody.$': '$.message',
        'MessageGroupId.$': '$.tenant_id',
      },
      End: true,
    },
  },
} as const;

/**
 * How the long-run state machine treats a step (HLD §4.3): attempts of one step (the first and its
 * retries after a failure or a heartbeat timeout) and the backoff between them.
 */
export const longRunDefinition = {
  stepAttempts: 3,
  retryIntervalSeconds: 2,
  retryBackoffRate: 2,
} as const;

/**
 * The long-run state machine (Standard): each step goes to the step queue with a task token; the
 * worker heartbeats while it works and answers with the step's continuation, which either ends the
 * execution, waits (a `wait` tool; longer than any function can run), or loops to the next step.
 * Failures and heartbeat timeouts are retried with backoff; once the attempts are spent, a
 * `run.fail` task tells the worker to fail the run with the reason. The execution input is
 * `{ run_id, auth, step, heartbeat_seconds, step_timeout_seconds }`. `${StepQueueUrl}` is substituted
 * by CDK and by the local provisioner.
 */
export const longRunStateMachineDefinition = {
  Comment: 'AgentOS long run: drives the steps of a long-mode run with task tokens and heartbeats',
  StartAt: 'RunStep',
  States: {
    RunStep: {
      Type: 'Task',
      Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
      Parameters: {
        QueueUrl: '${StepQueueUrl}',
        MessageBody: {
          kind: 'run.step',
          'run_id.$': '$.run_id',
          'step.$': '$.step',
          'auth.$': '$.auth',
          'task_token.$': '$$.Task.Token',
          'attempt.$': '$$.State.RetryCount',
          max_attempts: longRunDefinition.stepAttempts,
          'heartbeat_seconds.$': '$.heartbeat_seconds',
        },
        MessageAttributes: { tenant_id: { DataType: 'String', 'StringValue.$': '$.auth.tenant_id' } },
        'MessageGroupId.$': '$.auth.tenant_id',
      },
      HeartbeatSecondsPath: '$.heartbeat_seconds',
      TimeoutSecondsPath: '$.step_timeout_seconds',
      ResultPath: '$.result',
      Retry: [
        {
          // States.Timeout covers both a missed heartbeat and a step over its timeout.
          ErrorEquals: ['States.Timeout', stepTaskErrors.retry, stepTaskErrors.failed],
          IntervalSeconds: longRunDefinition.retryIntervalSeconds,
          BackoffRate: longRunDefinition.retryBackoffRate,
          MaxAttempts: longRunDefinition.stepAttempts - 1,
        },
      ],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'FailRun' }],
      Next: 'Continue',
    },
    Continue: {
      Type: 'Choice',
      Choices: [
        { Variable: '$.result.continuation.kind', StringEquals: 'end', Next: 'Done' },
        { Variable: '$.result.continuation.waitSeconds', NumericGreaterThan: 0, Next: 'Pause' },
      ],
      Default: 'NextStep',
    },
    Pause: { Type: 'Wait', SecondsPath: '$.result.continuation.waitSeconds', Next: 'NextStep' },
    NextStep: {
      Type: 'Pass',
      Parameters: {
        'run_id.$': '$.run_id',
        'auth.$': '$.auth',
        'step.$': '$.result.continuation.step',
        'heartbeat_seconds.$': '$.heartbeat_seconds',
        'step_timeout_seconds.$': '$.step_timeout_seconds',
      },
      Next: 'RunStep',
    },
    FailRun: {
      Type: 'Task',
      Resource: 'arn:aws:states:::sqs:sendMessage',
      Parameters: {
        QueueUrl: '${StepQueueUrl}',
        MessageBody: {
          kind: 'run.fail',
          'run_id.$': '$.run_id',
          'step.$': '$.step',
          'auth.$': '$.auth',
          'error.$': '$.failure.Error',
          'cause.$': '$.failure.Cause',
        },
        MessageAttributes: { tenant_id: { DataType: 'String', 'StringValue.$': '$.auth.tenant_id' } },
        'MessageGroupId.$': '$.auth.tenant_id',
      },
      ResultPath: null,
      Next: 'StepFailed',
    },
    StepFailed: { Type: 'Fail', Error: 'StepFailed', Cause: 'The step failed on every attempt' },
    Done: { Type: 'Succeed' },
  },
} as const;

/** The sender identity of alert e-mail. */
export const alertEmailDefinition = { defaultSender: 'alerts@agentos.local' } as const;

/** Physical names of a node's resources; a node id keeps two nodes on one account (or emulator) apart. */
export function resourceNames(nodeId: string) {
  if (!/^[a-z0-9-]{1,32}$/.test(nodeId)) throw new Error(`Invalid node id "${nodeId}"`);
  return {
    table: `agentos-${nodeId}`,
    stepQueue: `agentos-${nodeId}-steps`,
    stepDeadLetterQueue: `agentos-${nodeId}-steps-dlq`,
    deadlineQueue: `agentos-${nodeId}-deadlines`,
    settlementQueue: `agentos-${nodeId}-settlements`,
    settlementDeadLetterQueue: `agentos-${nodeId}-settlements-dlq`,
    stateMachine: `agentos-${nodeId}-run-deadline`,
    longRunStateMachine: `agentos-${nodeId}-long-run`,
  };
}

/** A state machine definition with the step queue's URL filled in (the run deadline's by default). */
export function renderStateMachineDefinition(
  stepQueueUrl: string,
  definition: object = runDeadlineStateMachineDefinition,
): string {
  return JSON.stringify(definition).replaceAll('${StepQueueUrl}', stepQueueUrl);
}
