import { parseSse } from './sse-client.ts';
import type { SseFrame } from './sse-client.ts';

/** An HTTP answer: status, headers and parsed JSON body. */
export type ApiAnswer<T = unknown> = { status: number; headers: Headers; body: T };

/** A minimal Orchestrator API client for the CLI's smoke runs, benchmarks and tests. */
export class AgentOsClient {
  private readonly baseUrl: string;
  private readonly token: string;

  constructor(baseUrl: string, token: string) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.token = token;
  }

  async request<T = unknown>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<ApiAnswer<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      body: options.body === undefined ? null : JSON.stringify(options.body),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: (text === '' ? undefined : JSON.parse(text)) as T,
    };
  }

  createRun(body: unknown, idempotencyKey?: string) {
    return this.request<{ run_id: string; status: string }>('POST', '/v1/runs', {
      body,
      headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
    });
  }

  getRun(runId: string) {
    return this.request<{ run_id: string; status: string }>('GET', `/v1/runs/${runId}`);
  }

  cancelRun(runId: string) {
    return this.request<{ run_id: string; status: string }>('POST', `/v1/runs/${runId}:cancel`);
  }

  /** Opens the run's SSE stream and yields its frames until the server closes it or `signal` aborts. */
  async *streamEvents(
    runId: string,
    options: { lastEventId?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<SseFrame> {
    const response = await fetch(`${this.baseUrl}/v1/runs/${runId}/events`, {
      headers: {
        authorization: `Bearer ${this.token}`,
        accept: 'text/event-stream',
        ...(options.lastEventId === undefined ? {} : { 'last-event-id': String(options.lastEventId) }),
      },
      signal: options.signal ?? null,
    });
    if (response.status !== 200 || response.body === null) {
      throw new Error(`event stream answered ${response.status}: ${await response.text()}`);
    }
    yield* parseSse(response.body);
  }
}
