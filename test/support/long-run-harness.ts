import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { startSqsPoller } from '../../cli/local/sqs-poller.ts';
import { DynamoAgentRegistry } from '../../functions/orchestrator/adapters/dynamodb/dynamo-agent-registry.ts';
import { DynamoRunStateStore } from '../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import { DynamoToolRegistry } from '../../functions/orchestrator/adapters/dynamodb/dynamo-tool-registry.ts';
import { InMemoryToolSecrets } from '../../functions/orchestrator/adapters/in-memory/in-memory-tools.ts';
import { DynamoMemoryStore } from '../../functions/orchestrator/adapters/memory/dynamo-memory-store.ts';
import { SfnRunDriver } from '../../functions/orchestrator/adapters/sfn/sfn-run-driver.ts';
import { createStepWorkerHandler } from '../../functions/orchestrator/adapters/sqs/sqs-step-worker.ts';
import { SqsStepQueue } from '../../functions/orchestrator/adapters/sqs/sqs-step-queue.ts';
import { SqsRedeliveryBackoff } from '../../functions/orchestrator/adapters/sqs/sqs-visibility.ts';
import { ToolCatalog } from '../../functions/orchestrator/adapters/tools/tool-catalog.ts';
import type { ModelPort } from '../../functions/orchestrator/ports/model-port.ts';
import type { RunStatePort } from '../../functions/orchestrator/ports/run-state-port.ts';
import { createRunService } from '../../functions/orchestrator/runtime/run-service.ts';
import { newRunId } from '../../functions/orchestrator/runtime/run-id.ts';
import { createStepEngine } from '../../functions/orchestrator/runtime/step-engine.ts';
import type { AgentDefinition } from '../../functions/orchestrator/schemas/agent.ts';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { AssistantMessage } from '../../functions/shared/contracts/chat.ts';
import type { ModelInvokeResponse } from '../../functions/shared/contracts/model-invocation.ts';
import { createSafeFetch } from '../../functions/shared/net/safe-fetch.ts';
import { createTelemetry } from '../../functions/shared/observability/telemetry.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import type { ProvisionedResources } from '../../infra/local/provision-emulator.ts';
import { provisionTestNode, testAwsConfig } from './aws.ts';

/** A long-mode agent; tests override what they exercise. */
export function longAgent(overrides: Partial<AgentDefinition> = {}): AgentDefinition {
  const at = new Date().toISOString();
  return {
    object: 'agent',
    agent_id: 'long-agent',
    version: 1,
    created_at: at,
    updated_at: at,
    name: 'Long agent',
    description: '',
    model_ref: 'test/scripted',
    instructions: 'Work through the steps.',
    tool_ids: ['echo', 'wait'],
    max_steps: 20,
    max_tokens_per_step: 256,
    timeout_seconds: 900,
    step_timeout_seconds: 30,
    tool_timeout_ms: 10_000,
    on_model_error: { action: 'abort', max_attempts: 1, backoff_ms: 0 },
    on_tool_error: { action: 'continue', max_attempts: 1, backoff_ms: 0, on_exhausted: 'abort' },
    run_mode: 'long',
    memory_namespace: 'agents',
    max_context_bytes: 256 * 1024,
    max_transcript_bytes: 16 * 1024 * 1024,
    ...overrides,
  };
}

/** What the scripted model does on a step: call tools, reply, or fail. */
export type ModelTurn =
  { tools: { name: string; arguments: Record<string, unknown> }[] } | { reply: string } | { throws: Error };

/** A model answer in the shape the Model Policy gives. */
function response(message: AssistantMessage): ModelInvokeResponse {
  return {
    object: 'model.invocation',
    request_id: 'r',
    output: { message, finish_reason: message.tool_calls === undefined ? 'stop' : 'tool_calls' },
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2, cost_usd: 0 },
    route: { model_ref: 'test/scripted', provider: 'test', model: 'scripted', hops: [] },
    policy: { decisions: [] },
  } as unknown as ModelInvokeResponse;
}

export type LongRunNode = {
  resources: ProvisionedResources;
  runs: RunStatePort;
  service: ReturnType<typeof createRunService>;
  sfn: SFNClient;
  sqs: SQSClient;
  /** Step deliveries the worker saw, in order (`kind`, `step`, `attempt` of each body). */
  deliveries: Record<string, unknown>[];
  /** Deliveries the worker has finished with (answered, or left for redelivery). */
  processed(): number;
  /** Failures the worker and services reported instead of throwing. */
  reported: { what: string; error: unknown }[];
  stop(): Promise<void>;
};

/**
 * A node driving long runs over the real wire: the run service and the step worker in this process,
 * the emulator's Step Functions, SQS and DynamoDB behind them (runs, `agent` stored for the tenant
 * of `auth`, tools and memory), the built-in tools, and a scripted model (`script(step)`).
 * `intercept` may take a delivery away from the worker (a worker that dies: no heartbeat, no answer).
 */
export async function startLongRunNode(options: {
  auth: AuthContext;
  agent: AgentDefinition;
  script: (step: number, attempt: number) => ModelTurn | Promise<ModelTurn>;
  heartbeatSeconds?: number;
  /** The local stand-in of the step worker's function timeout. */
  workerTimeoutSeconds?: number;
  intercept?: (body: Record<string, unknown>) => boolean;
}): Promise<LongRunNode> {
  const { resources } = await provisionTestNode('long');
  const aws = testAwsConfig();
  const db = createDocumentClient(aws);
  const sqs = new SQSClient(aws);
  const sfn = new SFNClient(aws);
  const runs = new DynamoRunStateStore(db, resources.tableName);
  const agents = new DynamoAgentRegistry(db, resources.tableName);
  await agents.put(options.auth, options.agent);
  const tools = new ToolCatalog({
    registry: new DynamoToolRegistry(db, resources.tableName),
    memory: new DynamoMemoryStore(db, resources.tableName),
    fetch: createSafeFetch(),
    // The built-ins the long runs use (echo, wait) read no credentials.
    secrets: new InMemoryToolSecrets(),
  });
  const reported: { what: string; error: unknown }[] = [];
  const reportFailure = (what: string, error: unknown) => reported.push({ what, error });
  const queue = new SqsStepQueue(sqs, resources.stepQueueUrl, {
    sfn,
    stateMachineArn: resources.stateMachineArn,
    queueUrl: resources.deadlineQueueUrl,
  });
  const driver = new SfnRunDriver(sfn, {
    stateMachineArn: resources.longRunStateMachineArn,
    heartbeatSeconds: options.heartbeatSeconds ?? 2,
  });
  const sink = { publish: async () => undefined };
  const attempts = new Map<number, number>();
  const models: ModelPort = {
    invoke: async (_auth, _ref, request) => {
      const step = request.attribution?.step ?? 0;
      const attempt = (attempts.get(step) ?? 0) + 1;
      attempts.set(step, attempt);
      const turn = await options.script(step, attempt);
      if ('throws' in turn) throw turn.throws;
      if ('reply' in turn) return response({ role: 'assistant', content: turn.reply });
      return response({
        role: 'assistant',
        content: null,
        tool_calls: turn.tools.map((call, index) => ({
          id: `call_${step}_${index}`,
          type: 'function',
          function: { name: call.name, arguments: JSON.stringify(call.arguments) },
        })),
      } as AssistantMessage);
    },
  };
  const now = () => new Date();
  const service = createRunService({
    runs,
    queue,
    driver,
    agents,
    sink,
    reportFailure,
    now,
    newRunId: () => newRunId(),
    idempotencyTtlSeconds: 86_400,
  });
  const engine = createStepEngine({
    runs,
    queue,
    driver,
    agents,
    models,
    tools,
    sink,
    now,
    reportFailure,
    warn: () => undefined,
  });
  const backoff = new SqsRedeliveryBackoff(sqs, resources.stepQueueUrl, [resources.deadlineQueueUrl]);
  const handler = createStepWorkerHandler({
    engine,
    telemetry: createTelemetry('agent-orchestrator'),
    maxAttempts: 3,
    maxReceives: 5,
    redeliverAfter: (receipt, attempt, seconds, queueArn) =>
      backoff.redeliverAfter(receipt, seconds ?? SqsRedeliveryBackoff.delaySeconds(attempt), queueArn),
    driver,
    reportFailure,
  });
  const deliveries: Record<string, unknown>[] = [];
  let processed = 0;
  const workerHandler = async (event: SQSEvent, context: unknown): Promise<SQSBatchResponse> => {
    const kept: SQSEvent['Records'] = [];
    const dropped: string[] = [];
    for (const record of event.Records) {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(record.body) as Record<string, unknown>;
      } catch {
        body = { invalid: record.body };
      }
      deliveries.push(body);
      if (options.intercept?.(body) === true) dropped.push(record.messageId);
      else kept.push(record);
    }
    const answer =
      kept.length === 0 ? { batchItemFailures: [] } : await handler({ Records: kept }, context as never);
    processed += kept.length;
    return {
      batchItemFailures: [
        ...answer.batchItemFailures,
        ...dropped.map((itemIdentifier) => ({ itemIdentifier })),
      ],
    };
  };
  // The worker's two event sources, as deployed: the step queue and the deadline queue.
  const pollers = [
    { queueUrl: resources.stepQueueUrl, queueArn: resources.stepQueueArn, concurrency: 2 },
    { queueUrl: resources.deadlineQueueUrl, queueArn: resources.deadlineQueueArn, concurrency: 1 },
  ].map((source) =>
    startSqsPoller({
      ...source,
      aws: { region: aws.region, endpoint: aws.endpoint ?? '', maxAttempts: 3 },
      functionName: 'stepWorker',
      timeoutSeconds: options.workerTimeoutSeconds ?? 150,
      batchSize: 5,
      waitTimeSeconds: 1,
      onError: (error) => reportFailure('step poller error', error),
      handler: workerHandler,
    }),
  );
  return {
    resources,
    runs,
    service,
    sfn,
    sqs,
    deliveries,
    processed: () => processed,
    reported,
    async stop() {
      await Promise.all(pollers.map((poller) => poller.stop()));
      sqs.destroy();
      sfn.destroy();
      db.destroy();
    },
  };
}

/** Polls `read` until `done` holds, or gives up after `timeoutMs` and returns the last value. */
export async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    value = await read();
  }
  return value;
}
