import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../../functions/model-policy/ports/model-provider-port.ts';
import type {
  ModelProvider,
  ProviderRequest,
  ProviderResult,
  ProviderStreamChunk,
} from '../../../functions/model-policy/ports/model-provider-port.ts';
import { estimatePromptTokens } from '../../../functions/model-policy/metering/token-estimate.ts';
import { startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

/**
 * A backend that ignores `max_tokens` (as some self-hosted servers do) and streams words until it is
 * stopped, remembering whether it was told to stop.
 */
class RunawayBackend implements ModelProvider {
  readonly kind = 'runaway';
  aborted = 0;

  async complete(request: ProviderRequest): Promise<ProviderResult> {
    return {
      message: { role: 'assistant', content: 'word '.repeat(request.max_tokens * 3).trim() },
      finish_reason: 'stop',
      usage: {
        prompt_tokens: estimatePromptTokens(request.messages),
        completion_tokens: request.max_tokens * 3,
      },
    };
  }

  async *stream(request: ProviderRequest): AsyncIterable<ProviderStreamChunk> {
    const said = (text: string): boolean =>
      request.messages.some((message) => message.role === 'user' && message.content === text);
    const endless = said('forever');
    const piece = said('no spaces')
      ? (index: number) => `汉字${index % 10}`
      : (index: number) => `w${index} `;
    try {
      for (let index = 0; endless || index < 1000; index += 1) {
        if (request.signal.aborted) throw new ProviderError('timeout', 'stopped');
        if (endless) await new Promise((resolve) => setTimeout(resolve, 5));
        yield { type: 'delta', content: piece(index) };
      }
      yield { type: 'finish', finish_reason: 'stop', usage: { prompt_tokens: 1, completion_tokens: 1000 } };
    } finally {
      if (request.signal.aborted) this.aborted += 1;
    }
  }
}

const backend = new RunawayBackend();
let gateway: Gateway;
let token: string;

beforeAll(async () => {
  gateway = await startGateway({ adapters: { providerFactory: async () => backend } });
  token = await gateway.token('streams');
});

afterAll(async () => {
  await gateway.close();
});

type Usage = {
  totals: { calls: number; completion_tokens: number; total_tokens: number };
  budgets: { period: string; spent_tokens: number; reserved_tokens: number }[];
};

async function dayUsage(): Promise<Usage> {
  return (await gateway.call('GET', '/v1/usage?window=day', token)).body as Usage;
}

function chunks(body: string): Record<string, unknown>[] {
  return body
    .split('\n\n')
    .filter((event) => event.startsWith('data: {'))
    .map((event) => JSON.parse(event.slice(6)) as Record<string, unknown>);
}

describe('streams against the reservation', () => {
  it('cuts a stream at the reserved max_tokens and bills no more than was reserved', async () => {
    const messages = [{ role: 'user', content: 'talk' }];
    const before = await dayUsage();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local/echo', stream: true, max_tokens: 5, messages }),
    });
    const events = chunks(await response.text());
    const text = events
      .map((event) => (event['choices'] as { delta: { content?: string } }[])[0]?.delta.content ?? '')
      .join('');
    expect(text.trim().split(/\s+/)).toEqual(['w0', 'w1', 'w2', 'w3', 'w4']);
    const finish = events.find(
      (event) => (event['choices'] as { finish_reason: string | null }[])[0]?.finish_reason,
    );
    expect((finish?.['choices'] as { finish_reason: string }[])[0]?.finish_reason).toBe('length');
    expect(events.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 5 } });
    const after = await dayUsage();
    const reserved = estimatePromptTokens(messages as never) + 5;
    expect(after.totals.total_tokens - before.totals.total_tokens).toBeLessThanOrEqual(reserved);
    expect(after.budgets.every((budget) => budget.reserved_tokens === 0)).toBe(true);
  });

  it('cuts a stream of text without spaces at the reserved max_tokens', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'local/echo',
        stream: true,
        max_tokens: 5,
        messages: [{ role: 'user', content: 'no spaces' }],
      }),
    });
    const events = chunks(await response.text());
    const text = events
      .map((event) => (event['choices'] as { delta: { content?: string } }[])[0]?.delta.content ?? '')
      .join('');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(5 * 4);
    expect(events.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 5 } });
  });

  it('stops the backend and bills the partial stream when the client goes away', async () => {
    const before = await dayUsage();
    const abortedBefore = backend.aborted;
    const client = new AbortController();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'local/echo',
        stream: true,
        max_tokens: 4000,
        messages: [{ role: 'user', content: 'forever' }],
      }),
      signal: client.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    await reader.read();
    client.abort();
    let after = await dayUsage();
    // Settlement happens after the disconnect is noticed; wait for it rather than for a time.
    for (let attempt = 0; attempt < 100 && after.totals.calls === before.totals.calls; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = await dayUsage();
    }
    expect(after.totals.calls).toBe(before.totals.calls + 1);
    expect(after.totals.completion_tokens).toBeGreaterThan(before.totals.completion_tokens);
    expect(after.totals.completion_tokens - before.totals.completion_tokens).toBeLessThan(4000);
    expect(after.budgets.every((budget) => budget.reserved_tokens === 0)).toBe(true);
    expect(backend.aborted).toBeGreaterThan(abortedBefore);
  });
});
