import { createServer, constants as http2Constants } from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse, Http2Session, IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import {
  BehaviourQueue,
  cancellableWait,
  fakeAnswer,
  fakeEmbedding,
  fakePromptTokens,
  fakeTextTokens,
  slices,
  wordPieces,
} from './fake-behaviour.ts';
import type { FakeAnswer, FakeBehaviour } from './fake-behaviour.ts';

/**
 * A fake Amazon Bedrock Runtime on 127.0.0.1 speaking the Converse wire format, so the real
 * `@aws-sdk/client-bedrock-runtime` runs against it unchanged:
 * - `POST /model/{modelId}/converse`: JSON as the Converse API answers it;
 * - `POST /model/{modelId}/converse-stream`: `application/vnd.amazon.eventstream` frames (`:event-type`,
 *   `:content-type`, `:message-type` headers), exceptions as `:message-type: exception` frames;
 * - `POST /model/{modelId}/invoke`: the Titan Text Embeddings v2 body (`inputText`, `dimensions` of
 *   256, 512 or 1024, `normalize`), answered with `fakeEmbedding` vectors and `inputTextTokenCount`;
 * - errors with the `x-amzn-ErrorType` header and a JSON `{"message"}` body, as the service sends them.
 *
 * It speaks HTTP/2 (cleartext), which is what the SDK's default request handler uses. It checks the
 * request the way the service does for the rules a mapping can break (alternating roles, no blank
 * text, tool blocks need a tool configuration) and answers a ValidationException when one is broken.
 */

/** The Converse request body as received. */
export type FakeConverseBody = {
  messages?: { role?: string; content?: Record<string, unknown>[] }[];
  system?: { text?: string }[];
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  toolConfig?: { tools?: unknown[]; toolChoice?: Record<string, unknown> };
  [field: string]: unknown;
};

/** One request the fake received. */
export type FakeBedrockRequest = {
  operation: 'converse' | 'converse-stream' | 'invoke';
  modelId: string;
  headers: IncomingHttpHeaders;
  body: FakeConverseBody;
  /** What the fake did with it; absent when the request was refused as invalid. */
  behaviour?: FakeBehaviour;
  /** The usage it reported, when it answered. */
  usage?: { prompt_tokens: number; completion_tokens: number };
};

export type FakeBedrockServer = {
  /** Endpoint for the SDK's `endpoint` option. */
  url: string;
  enqueue(...behaviours: FakeBehaviour[]): void;
  /** Drops queued behaviours, forgets received requests (restarting generated ids) and, when given, replaces the default behaviour. */
  reset(defaultBehaviour?: FakeBehaviour): void;
  readonly requests: FakeBedrockRequest[];
  close(): Promise<void>;
};

export type FakeBedrockServerOptions = { defaultBehaviour?: FakeBehaviour };

const exceptionOfStatus: Record<number, { type: string; message: string }> = {
  400: {
    type: 'ValidationException',
    message: 'Malformed input request, please reformat your input and try again.',
  },
  403: {
    type: 'AccessDeniedException',
    message: "You don't have access to the model with the specified model ID.",
  },
  404: { type: 'ResourceNotFoundException', message: 'Model not found.' },
  408: { type: 'ModelTimeoutException', message: 'Model has timed out in processing the request.' },
  424: { type: 'ModelErrorException', message: 'The model returned an error.' },
  429: { type: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' },
  500: {
    type: 'InternalServerException',
    message: 'The server encountered an error processing your request.',
  },
  503: {
    type: 'ServiceUnavailableException',
    message: 'The service is unavailable. Please try again later.',
  },
};

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => new Uint8Array(Buffer.from(text, 'utf8')),
);

const stopReasonOf: Record<FakeAnswer['finish'], string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
};

/** Starts a fake Bedrock Runtime on a free port of 127.0.0.1. */
export async function startFakeBedrockServer(
  options: FakeBedrockServerOptions = {},
): Promise<FakeBedrockServer> {
  const queue = new BehaviourQueue(options.defaultBehaviour ?? { kind: 'echo' });
  const requests: FakeBedrockRequest[] = [];
  const sessions = new Set<Http2Session>();
  let callCount = 0;

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR));
  });
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });

  async function handle(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    const match = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(
      (req.url ?? '').split('?')[0] ?? '',
    );
    if (req.method !== 'POST' || match === null) {
      sendException(res, 404, 'UnknownOperationException', 'Unknown operation');
      return;
    }
    const operation = match[2] as 'converse' | 'converse-stream' | 'invoke';
    const modelId = decodeURIComponent(match[1] ?? '');
    let body: FakeConverseBody;
    try {
      body = JSON.parse(await readBody(req)) as FakeConverseBody;
    } catch {
      sendException(res, 400, 'SerializationException', 'Unable to parse the request body as JSON.');
      return;
    }
    const entry: FakeBedrockRequest = { operation, modelId, headers: req.headers, body };
    requests.push(entry);
    const invalid = operation === 'invoke' ? titanProblem(modelId, body) : validationProblem(body);
    if (invalid !== undefined) {
      sendException(res, 400, 'ValidationException', invalid);
      return;
    }
    const behaviour = queue.next();
    entry.behaviour = behaviour;
    if (behaviour.delayMs !== undefined && behaviour.delayMs > 0) {
      const wait = cancellableWait(behaviour.delayMs);
      res.once('close', wait.cancel);
      if (await wait.done) return;
    }
    if (operation === 'invoke' && behaviour.kind !== 'error' && behaviour.kind !== 'drop') {
      const text = body['inputText'] as string;
      const dimensions = typeof body['dimensions'] === 'number' ? body['dimensions'] : 1024;
      const tokens = fakeTextTokens(text);
      entry.usage = { prompt_tokens: tokens, completion_tokens: 0 };
      const embedding = fakeEmbedding(text, dimensions);
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-amzn-requestid': `fake-invoke-${requests.length}`,
      });
      res.end(
        JSON.stringify({ embedding, embeddingsByType: { float: embedding }, inputTextTokenCount: tokens }),
      );
      return;
    }
    const streaming = operation === 'converse-stream';
    switch (behaviour.kind) {
      case 'drop':
        res.stream.session?.destroy();
        return;
      case 'error': {
        const known = exceptionOfStatus[behaviour.status];
        sendException(
          res,
          behaviour.status,
          behaviour.type ?? known?.type ?? 'InternalServerException',
          behaviour.message ?? known?.message ?? `Error ${behaviour.status}`,
        );
        return;
      }
      case 'cut':
      case 'stream_error':
        if (!streaming) {
          if (behaviour.kind === 'stream_error')
            sendException(res, 424, 'ModelErrorException', 'The model failed.');
          else cutJson(res);
          return;
        }
        break;
      default:
        break;
    }
    callCount += 1;
    const answer = fakeAnswer(
      behaviour.kind === 'cut' || behaviour.kind === 'stream_error'
        ? { kind: 'reply', text: 'a partial answer that never ends' }
        : behaviour,
      {
        lastUserText: lastUserText(body),
        maxTokens: body.inferenceConfig?.maxTokens ?? 4096,
        promptTokens: fakePromptTokens(body.system, body.messages, body.toolConfig?.tools),
        callIdPrefix: `tooluse_fake${callCount}_`,
      },
    );
    const requestId = `fake-${callCount}`;
    if (!streaming) {
      entry.usage = answer.usage;
      const text = JSON.stringify(converseBody(answer));
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': requestId });
      res.end(text);
      return;
    }
    const frames = streamFrames(answer);
    res.writeHead(200, {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': requestId,
    });
    if (behaviour.kind === 'cut') {
      res.write(Buffer.concat(frames.slice(0, behaviour.afterChunks ?? 2)), () =>
        res.stream.session?.destroy(),
      );
      return;
    }
    if (behaviour.kind === 'stream_error') {
      const exception = exceptionFrame(
        behaviour.type ?? 'modelStreamErrorException',
        behaviour.message ?? 'The model stream failed.',
      );
      res.end(Buffer.concat([...frames.slice(0, behaviour.afterChunks ?? 2), exception]));
      return;
    }
    entry.usage = answer.usage;
    res.end(Buffer.concat(frames));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    enqueue: (...behaviours) => queue.enqueue(...behaviours),
    reset: (defaultBehaviour) => {
      queue.reset(defaultBehaviour);
      requests.length = 0;
      callCount = 0;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.destroy();
      }),
  };
}

/** What Titan Text Embeddings v2 refuses in an InvokeModel body, worded like the service, or undefined. */
function titanProblem(modelId: string, body: FakeConverseBody): string | undefined {
  if (!modelId.startsWith('amazon.titan-embed-text-v2')) return 'The provided model identifier is invalid.';
  const text = body['inputText'];
  if (typeof text !== 'string' || text.trim() === '') return 'Malformed input request: inputText is required';
  const dimensions = body['dimensions'];
  if (dimensions !== undefined && ![256, 512, 1024].includes(dimensions as number)) {
    return `Malformed input request: #/dimensions: ${String(dimensions)} is not a valid enum value`;
  }
  return undefined;
}

/** The first rule of the Converse API the request breaks, worded like the service, or undefined. */
function validationProblem(body: FakeConverseBody): string | undefined {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0)
    return 'The messages field is required and must not be empty.';
  if (messages[0]?.role !== 'user')
    return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
  let toolBlocks = false;
  for (const [index, message] of messages.entries()) {
    if (index > 0 && messages[index - 1]?.role === message.role) {
      return 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
    }
    if (message.role !== 'user' && message.role !== 'assistant')
      return `messages.${index}.role must be user or assistant.`;
    if (!Array.isArray(message.content) || message.content.length === 0) {
      return `The content field in the Message object at messages.${index} is empty. Add a ContentBlock object to the content field and try again.`;
    }
    for (const block of message.content) {
      if ('text' in block && (typeof block['text'] !== 'string' || block['text'].trim() === '')) {
        return `The text field in the ContentBlock object at messages.${index}.content is blank. Add text to the text field, and try again.`;
      }
      if ('toolUse' in block || 'toolResult' in block) toolBlocks = true;
    }
  }
  if (toolBlocks && (body.toolConfig?.tools?.length ?? 0) === 0) {
    return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
  }
  const maxTokens = body.inferenceConfig?.maxTokens;
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 1)) {
    return "1 validation error detected: Value at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1";
  }
  return undefined;
}

function converseBody(answer: FakeAnswer): Record<string, unknown> {
  const content: Record<string, unknown>[] = [];
  if (answer.text !== '') content.push({ text: answer.text });
  for (const call of answer.calls) {
    content.push({ toolUse: { toolUseId: call.id, name: call.name, input: parseInput(call.arguments) } });
  }
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: stopReasonOf[answer.finish],
    usage: usageOf(answer),
    metrics: { latencyMs: 1 },
  };
}

function streamFrames(answer: FakeAnswer): Buffer[] {
  const frames = [eventFrame('messageStart', { role: 'assistant' })];
  let block = 0;
  if (answer.text !== '') {
    for (const piece of wordPieces(answer.text)) {
      frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: block, delta: { text: piece } }));
    }
    frames.push(eventFrame('contentBlockStop', { contentBlockIndex: block }));
    block += 1;
  }
  for (const call of answer.calls) {
    frames.push(
      eventFrame('contentBlockStart', {
        contentBlockIndex: block,
        start: { toolUse: { toolUseId: call.id, name: call.name } },
      }),
    );
    for (const piece of slices(call.arguments === '{}' ? '' : call.arguments, 10)) {
      frames.push(
        eventFrame('contentBlockDelta', { contentBlockIndex: block, delta: { toolUse: { input: piece } } }),
      );
    }
    frames.push(eventFrame('contentBlockStop', { contentBlockIndex: block }));
    block += 1;
  }
  frames.push(eventFrame('messageStop', { stopReason: stopReasonOf[answer.finish] }));
  frames.push(eventFrame('metadata', { usage: usageOf(answer), metrics: { latencyMs: 1 } }));
  return frames;
}

function eventFrame(eventType: string, payload: unknown): Buffer {
  return Buffer.from(
    codec.encode({
      headers: {
        ':event-type': { type: 'string', value: eventType },
        ':content-type': { type: 'string', value: 'application/json' },
        ':message-type': { type: 'string', value: 'event' },
      },
      body: new Uint8Array(Buffer.from(JSON.stringify(payload), 'utf8')),
    }),
  );
}

function exceptionFrame(exceptionType: string, message: string): Buffer {
  return Buffer.from(
    codec.encode({
      headers: {
        ':exception-type': { type: 'string', value: exceptionType },
        ':content-type': { type: 'string', value: 'application/json' },
        ':message-type': { type: 'string', value: 'exception' },
      },
      body: new Uint8Array(Buffer.from(JSON.stringify({ message }), 'utf8')),
    }),
  );
}

function usageOf(answer: FakeAnswer): Record<string, number> {
  return {
    inputTokens: answer.usage.prompt_tokens,
    outputTokens: answer.usage.completion_tokens,
    totalTokens: answer.usage.prompt_tokens + answer.usage.completion_tokens,
  };
}

function parseInput(argumentsJson: string): unknown {
  try {
    return JSON.parse(argumentsJson) as unknown;
  } catch {
    return {};
  }
}

function lastUserText(body: FakeConverseBody): string {
  const lastUser = (body.messages ?? []).findLast(
    (message) =>
      message.role === 'user' && (message.content ?? []).some((block) => typeof block['text'] === 'string'),
  );
  return (lastUser?.content ?? [])
    .map((block) => (typeof block['text'] === 'string' ? block['text'] : ''))
    .join('');
}

function sendException(res: Http2ServerResponse, status: number, type: string, message: string): void {
  const text = JSON.stringify({ message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    'x-amzn-requestid': 'fake-error',
  });
  res.end(text);
}

/** Starts a JSON answer and destroys the connection halfway through it. */
function cutJson(res: Http2ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{"output":{"message":{"role":"assis', () => res.stream.session?.destroy());
}

async function readBody(req: Http2ServerRequest): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}
