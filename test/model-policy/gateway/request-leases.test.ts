import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerPort } from '../../../functions/model-policy/ports/ledger-port.ts';
import type {
  ModelProvider,
  ProviderRequest,
  ProviderResult,
  ProviderStreamChunk,
} from '../../../functions/model-policy/ports/model-provider-port.ts';
import { DependencyUnavailableError } from '../../../functions/shared/errors/agentos-error.ts';
import { AdjustableClock, policyWithBudgets, startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

/** A backend that answers at once, or streams slowly until it is stopped; it counts its calls. */
class CountingBackend implements ModelProvider {
  readonly kind = 'counting';
  calls = 0;

  async complete(request: ProviderRequest): Promise<ProviderResult> {
    this.calls += 1;
    return {
      message: { role: 'assistant', content: 'ok' },
      finish_reason: 'stop',
      usage: { prompt_tokens: Math.min(10, request.max_tokens), completion_tokens: 1 },
    };
  }

  async *stream(request: ProviderRequest): AsyncIterable<ProviderStreamChunk> {
    this.calls += 1;
    for (let index = 0; !request.signal.aborted; index += 1) {
      yield { type: 'delta', content: `w${index} ` };
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** The DynamoDB ledger, except that the next settlements it is told to fail do not reach the store. */
class FlakySettlement implements LedgerPort {
  failSettles = 0;
  readonly #ledger: LedgerPort;
  readonly claim: LedgerPort['claim'];
  readonly claimAndReserve: LedgerPort['claimAndReserve'];
  readonly readBudgets: LedgerPort['readBudgets'];
  readonly reserve: LedgerPort['reserve'];
  readonly recordRefusal: LedgerPort['recordRefusal'];
  readonly requestAbort: LedgerPort['requestAbort'];
  readonly abortRequested: LedgerPort['abortRequested'];

  constructor(ledger: LedgerPort) {
    this.#ledger = ledger;
    this.claim = (...args) => ledger.claim(...args);
    this.claimAndReserve = (...args) => ledger.claimAndReserve(...args);
    this.readBudgets = (...args) => ledger.readBudgets(...args);
    this.reserve = (...args) => ledger.reserve(...args);
    this.recordRefusal = (...args) => ledger.recordRefusal(...args);
    this.requestAbort = (...args) => ledger.requestAbort(...args);
    this.abortRequested = (...args) => ledger.abortRequested(...args);
  }

  async settle(...args: Parameters<LedgerPort['settle']>): Promise<void> {
    if (this.failSettles > 0) {
      this.failSettles -= 1;
      throw new DependencyUnavailableError('The state store is unavailable');
    }
    return this.#ledger.settle(...args);
  }
}

const backend = new CountingBackend();
const clock = new AdjustableClock();
let ledger: FlakySettlement;
let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({
    adapters: { providerFactory: async () => backend },
    wrapLedger: (real) => (ledger = new FlakySettlement(real)),
    now: clock.now,
  });
});

afterAll(async () => {
  await gateway.close();
});

/** Budgets of period `total`, so moving the clock never moves a call into another budget period. */
async function setPolicy(tenantId: string): Promise<void> {
  const put = await gateway.call(
    'PUT',
    `/v1/admin/tenants/${tenantId}/model-policy`,
    await gateway.operatorToken(),
    policyWithBudgets([{ scope: 'tenant', period: 'total', limit_usd: 10, limit_tokens: 1_000_000 }]),
  );
  expect(put.status).toBe(200);
}

type Budget = { spent_tokens: number; reserved_tokens: number };

async function tenantBudget(token: string): Promise<Budget> {
  const report = await gateway.call('GET', '/v1/usage?window=month', token);
  return (report.body['budgets'] as Budget[])[0]!;
}

describe('request-id leases', () => {
  it('keeps the request id of a stream that runs past its backend timeout from being taken over', async () => {
    await setPolicy('long-stream');
    const token = await gateway.token('long-stream');
    const send = (signal?: AbortSignal) =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'x-request-id': 'long-stream-1',
        },
        body: JSON.stringify({
          model: 'local/echo',
          stream: true,
          max_tokens: 4000,
          messages: [{ role: 'user', content: 'talk for long' }],
        }),
        ...(signal === undefined ? {} : { signal }),
      });
    const client = new AbortController();
    const first = await send(client.signal);
    await first.body!.getReader().read();
    const callsBefore = backend.calls;
    // The local backend's timeout is 30 s; a stream may run far longer while it keeps producing.
    clock.advance(5 * 60_000);
    const retry = await send();
    expect(retry.status).toBe(409);
    expect(((await retry.json()) as { error: { code: string } }).error.code).toBe('request_in_progress');
    expect(backend.calls).toBe(callsBefore);
    client.abort();
  });

  it('answers a call whose settlement keeps failing, holds its reservation, and releases it once a retry takes its request id over', async () => {
    await setPolicy('stranded');
    const token = await gateway.token('stranded');
    const invoke = () =>
      gateway.call('POST', '/v1/models/local%2Fecho:invoke', token, {
        request_id: 'stranded-1',
        messages: [{ role: 'user', content: 'hello' }],
        max_tokens: 100,
      });
    // Every retry of the deferred settlement fails too.
    ledger.failSettles = 3;
    const answered = await invoke();
    expect(answered.status).toBe(200);
    expect((await tenantBudget(token)).reserved_tokens).toBeGreaterThan(0);
    expect(ledger.failSettles).toBe(0);
    // Within its lease the first attempt may still be settling; after it, a retry takes over.
    expect((await invoke()).status).toBe(409);
    clock.advance(10 * 60_000);
    const retried = await invoke();
    expect(retried.status).toBe(200);
    expect(retried.body['replayed']).toBe(false);
    const budget = await tenantBudget(token);
    expect(budget.reserved_tokens).toBe(0);
    const usage = retried.body['usage'] as { total_tokens: number };
    expect(budget.spent_tokens).toBe(usage.total_tokens);
  });
});
