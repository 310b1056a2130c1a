import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
 * A fake OpenAI-compatible server on 127.0.0.1 that speaks the chat-completions wire format (JSON,
 * and SSE `chat.completion.chunk`s with the `include_usage` chunk and `data: [DONE]`), so real
 * clients and adapters run against it unchanged. Each request plays the next queued behaviour.
 * `/embeddings` answers `fakeEmbedding` vectors (`dimensions` long, 1536 unless asked), as floats or
 * base64 float32 as `encoding_format` says; of the behaviours it plays `error`, `drop` and delays.
 */

/** The body a client sent to `/chat/completions`, as received. */
export type FakeOpenAiRequestBody = {
  model: string;
  messages: { role: string; content?: unknown; tool_calls?: unknown; tool_call_id?: string }[];
  tools?: unknown[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  max_completion_tokens?: number;
  [field: string]: unknown;
};

/** One request the fake received. */
export type FakeOpenAiRequest = {
  path: string;
  headers: IncomingHttpHeaders;
  body: FakeOpenAiRequestBody;
  /** What the fake did with it; absent when it was refused before (bad JSON, wrong API key). */
  behaviour?: FakeBehaviour;
  /** The usage it reported, when it answered. */
  usage?: { prompt_tokens: number; completion_tokens: number };
};

export type FakeOpenAiServer = {
  /** Base URL including `/v1`, as OpenAI clients expect. */
  url: string;
  /** Plays these behaviours on the next requests, in order. */
  enqueue(...behaviours: FakeBehaviour[]): void;
  /** Drops queued behaviours, forgets received requests (restarting generated ids) and, when given, replaces the default behaviour. */
  reset(defaultBehaviour?: FakeBehaviour): void;
  /** Every request received, in order. */
  readonly requests: FakeOpenAiRequest[];
  close(): Promise<void>;
};

export type FakeOpenAiServerOptions = {
  /** When set, requests without `Authorization: Bearer <apiKey>` get OpenAI's 401. */
  apiKey?: string;
  /** Played when the queue is empty; `echo` unless told. */
  defaultBehaviour?: FakeBehaviour;
};

const errorTypes: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Invalid request.' },
  401: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: 'Forbidden.' },
  404: { type: 'invalid_request_error', code: 'model_not_found', message: 'The model does not exist.' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached for requests.' },
  500: {
    type: 'server_error',
    code: null,
    message: 'The server had an error while processing your request.',
  },
  503: { type: 'server_error', code: null, message: 'The engine is currently overloaded.' },
};

/** Starts a fake OpenAI-compatible server on a free port of 127.0.0.1. */
export async function startFakeOpenAiServer(
  options: FakeOpenAiServerOptions = {},
): Promise<FakeOpenAiServer> {
  const queue = new BehaviourQueue(options.defaultBehaviour ?? { kind: 'echo' });
  const requests: FakeOpenAiRequest[] = [];
  let completionCount = 0;

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });

  async function handleEmbeddings(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    let body: FakeOpenAiRequestBody;
    try {
      body = JSON.parse(await readBody(req)) as FakeOpenAiRequestBody;
    } catch {
      sendError(res, 400, { message: 'We could not parse the JSON body of your request.' });
      return;
    }
    const entry: FakeOpenAiRequest = { path, headers: req.headers, body };
    requests.push(entry);
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      sendError(res, 401, {});
      return;
    }
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    if (
      typeof body.model !== 'string' ||
      !Array.isArray(input) ||
      input.some((text) => typeof text !== 'string')
    ) {
      sendError(res, 400, { message: "'input' must be a string or an array of strings." });
      return;
    }
    const behaviour = queue.next();
    entry.behaviour = behaviour;
    if (behaviour.delayMs !== undefined && behaviour.delayMs > 0) {
      const wait = cancellableWait(behaviour.delayMs);
      res.once('close', wait.cancel);
      if (await wait.done) return;
    }
    if (behaviour.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (behaviour.kind === 'error') {
      sendError(res, behaviour.status, {
        ...(behaviour.message !== undefined ? { message: behaviour.message } : {}),
        ...(behaviour.type !== undefined ? { type: behaviour.type } : {}),
      });
      return;
    }
    const dimensions = typeof body.dimensions === 'number' ? body.dimensions : 1536;
    const texts = input as string[];
    const promptTokens = texts.reduce((sum, text) => sum + fakeTextTokens(text), 0);
    entry.usage = { prompt_tokens: promptTokens, completion_tokens: 0 };
    sendJson(res, 200, {
      object: 'list',
      data: texts.map((text, index) => {
        const vector = fakeEmbedding(text, dimensions);
        return {
          object: 'embedding',
          index,
          embedding:
            body.encoding_format === 'base64'
              ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
              : vector,
        };
      }),
      model: body.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'POST' && (path === '/v1/embeddings' || path === '/embeddings')) {
      await handleEmbeddings(req, res, path);
      return;
    }
    if (req.method !== 'POST' || (path !== '/v1/chat/completions' && path !== '/chat/completions')) {
      sendError(res, 404, {
        message: `Unknown request URL: ${req.method} ${path}.`,
        type: 'invalid_request_error',
      });
      return;
    }
    const raw = await readBody(req);
    let body: FakeOpenAiRequestBody;
    try {
      body = JSON.parse(raw) as FakeOpenAiRequestBody;
    } catch {
      sendError(res, 400, { message: 'We could not parse the JSON body of your request.' });
      return;
    }
    const entry: FakeOpenAiRequest = { path, headers: req.headers, body };
    requests.push(entry);
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      sendError(res, 401, {});
      return;
    }
    if (typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
      sendError(res, 400, { message: "Missing required parameter: 'model' or 'messages'." });
      return;
    }
    const behaviour = queue.next();
    entry.behaviour = behaviour;
    if (behaviour.delayMs !== undefined && behaviour.delayMs > 0) {
      const wait = cancellableWait(behaviour.delayMs);
      res.once('close', wait.cancel);
      if (await wait.done) return;
    }
    const streaming = body.stream === true;
    switch (behaviour.kind) {
      case 'drop':
        req.socket.destroy();
        return;
      case 'error':
        sendError(res, behaviour.status, {
          ...(behaviour.message !== undefined ? { message: behaviour.message } : {}),
          ...(behaviour.type !== undefined ? { type: behaviour.type } : {}),
        });
        return;
      case 'cut':
      case 'stream_error':
        if (!streaming) {
          if (behaviour.kind === 'stream_error') sendError(res, 500, {});
          else cutJson(res);
          return;
        }
        break;
      default:
        break;
    }
    completionCount += 1;
    const id = `chatcmpl-fake${completionCount}`;
    const answer = fakeAnswer(
      behaviour.kind === 'cut' || behaviour.kind === 'stream_error'
        ? { kind: 'reply', text: 'a partial answer that never ends' }
        : behaviour,
      {
        lastUserText: lastUserText(body.messages),
        maxTokens: body.max_completion_tokens ?? body.max_tokens ?? 4096,
        promptTokens: fakePromptTokens(body.messages, body.tools),
        callIdPrefix: `call_fake${completionCount}_`,
      },
    );
    if (!streaming) {
      entry.usage = answer.usage;
      sendJson(res, 200, completionBody(id, body.model, answer));
      return;
    }
    const includeUsage = body.stream_options?.include_usage === true;
    const chunks = streamChunks(id, body.model, answer, includeUsage);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': id,
    });
    if (behaviour.kind === 'cut' || behaviour.kind === 'stream_error') {
      const sent = chunks
        .slice(0, behaviour.afterChunks ?? 2)
        .map(sseEvent)
        .join('');
      if (behaviour.kind === 'cut') {
        res.write(sent, () => req.socket.destroy());
        return;
      }
      const error = {
        object: 'error',
        message: behaviour.message ?? 'upstream model failed',
        type: behaviour.type ?? 'InternalServerError',
        param: null,
        code: 500,
      };
      res.end(`${sent}${sseEvent({ error })}data: [DONE]\n\n`);
      return;
    }
    entry.usage = answer.usage;
    res.end(`${chunks.map(sseEvent).join('')}data: [DONE]\n\n`);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    enqueue: (...behaviours) => queue.enqueue(...behaviours),
    reset: (defaultBehaviour) => {
      queue.reset(defaultBehaviour);
      requests.length = 0;
      completionCount = 0;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function completionBody(id: string, model: string, answer: FakeAnswer): Record<string, unknown> {
  const toolCalls = answer.calls.map((call) => ({
    id: call.id,
    type: 'function',
    function: { name: call.name, arguments: call.arguments },
  }));
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: answer.text === '' && toolCalls.length > 0 ? null : answer.text,
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          annotations: [],
        },
        logprobs: null,
        finish_reason: answer.finish,
      },
    ],
    usage: { ...answer.usage, total_tokens: answer.usage.prompt_tokens + answer.usage.completion_tokens },
    service_tier: 'default',
    system_fingerprint: null,
  };
}

function streamChunks(
  id: string,
  model: string,
  answer: FakeAnswer,
  includeUsage: boolean,
): Record<string, unknown>[] {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (
    delta: Record<string, unknown>,
    finishReason: string | null = null,
  ): Record<string, unknown> => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const chunks = [chunk({ role: 'assistant', content: '', refusal: null })];
  for (const piece of wordPieces(answer.text)) chunks.push(chunk({ content: piece }));
  for (const [index, call] of answer.calls.entries()) {
    chunks.push(
      chunk({
        tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }],
      }),
    );
    for (const piece of slices(call.arguments, 10)) {
      chunks.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
  }
  chunks.push(chunk({}, answer.finish));
  if (includeUsage) {
    chunks.push({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      system_fingerprint: null,
      choices: [],
      usage: { ...answer.usage, total_tokens: answer.usage.prompt_tokens + answer.usage.completion_tokens },
    });
  }
  return chunks;
}

function sseEvent(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

function lastUserText(messages: FakeOpenAiRequestBody['messages']): string {
  const content = messages.findLast((message) => message.role === 'user')?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part: { text?: unknown }) => (typeof part.text === 'string' ? part.text : '')).join('');
}

function sendError(res: ServerResponse, status: number, error: { message?: string; type?: string }): void {
  const known = errorTypes[status] ?? { type: 'server_error', code: null, message: `Error ${status}.` };
  sendJson(res, status, {
    error: {
      message: error.message ?? known.message,
      type: error.type ?? known.type,
      param: null,
      code: known.code,
    },
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Starts a JSON answer and destroys the connection halfway through it. */
function cutJson(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
  res.write('{"id":"chatcmpl-cut","object":"chat.comp', () => res.socket?.destroy());
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/**
 * A model catalog with one priced model, `fake/gpt`, served by the fake OpenAI-compatible server at
 * `baseUrl`: what a test passes as `AGENTOS_MODEL_CATALOG` to run a node's model calls against it.
 */
export function fakeOpenAiCatalog(baseUrl: string) {
  return {
    backends: { fake: { kind: 'openai', base_url: baseUrl, timeout_ms: 5_000 } },
    models: { 'fake/gpt': { backend: 'fake', model: 'gpt-4o-mini' } },
    price_tables: [
      {
        version: 'test-1',
        effective_from: '2024-01-01T00:00:00Z',
        prices: { 'fake/gpt': { input_usd_per_mtok: 1, output_usd_per_mtok: 2 } },
      },
    ],
  };
}
