import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoLedger } from '../../../functions/model-policy/adapters/dynamodb/dynamo-ledger.ts';
import type { LedgerPort } from '../../../functions/model-policy/ports/ledger-port.ts';
import { DependencyUnavailableError } from '../../../functions/shared/errors/agentos-error.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { freePort } from '../../../cli/local/emulator.ts';
import { startFakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import { testAwsConfig } from '../../support/aws.ts';
import { pricedCatalog, startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

/** The node's ledger, except that one of its operations fails as if the store were unreachable. */
class FailingLedger implements LedgerPort {
  failing: 'reserve' | 'settle' | undefined;
  readonly #ledger: LedgerPort;

  constructor(ledger: LedgerPort) {
    this.#ledger = ledger;
  }

  claim(...args: Parameters<LedgerPort['claim']>) {
    return this.#ledger.claim(...args);
  }

  claimAndReserve(...args: Parameters<LedgerPort['claimAndReserve']>) {
    if (this.failing === 'reserve') return Promise.reject(unreachable());
    return this.#ledger.claimAndReserve(...args);
  }

  readBudgets(...args: Parameters<LedgerPort['readBudgets']>) {
    return this.#ledger.readBudgets(...args);
  }

  reserve(...args: Parameters<LedgerPort['reserve']>) {
    if (this.failing === 'reserve') return Promise.reject(unreachable());
    return this.#ledger.reserve(...args);
  }

  settle(...args: Parameters<LedgerPort['settle']>) {
    if (this.failing === 'settle') return Promise.reject(unreachable());
    return this.#ledger.settle(...args);
  }

  recordRefusal(...args: Parameters<LedgerPort['recordRefusal']>) {
    return this.#ledger.recordRefusal(...args);
  }

  requestAbort(...args: Parameters<LedgerPort['requestAbort']>) {
    return this.#ledger.requestAbort(...args);
  }

  abortRequested(...args: Parameters<LedgerPort['abortRequested']>) {
    return this.#ledger.abortRequested(...args);
  }
}

function unreachable(): DependencyUnavailableError {
  return new DependencyUnavailableError('The state store is unavailable');
}

const catalog = (upstreamUrl: string) =>
  pricedCatalog(
    {
      backends: { fake: { kind: 'openai', base_url: upstreamUrl } },
      models: { 'openai/gpt-4o-mini': { backend: 'fake', model: 'gpt-4o-mini' } },
    },
    { input_usd_per_mtok: 0.15, output_usd_per_mtok: 0.6 },
  );

let upstream: FakeOpenAiServer;
let gateway: Gateway;
let flaky: FailingLedger;
let flakyGateway: Gateway;

beforeAll(async () => {
  upstream = await startFakeOpenAiServer();
  // A ledger whose store does not answer: nothing listens on this port.
  const unreachableStore = createDocumentClient({
    ...testAwsConfig(),
    endpoint: `http://127.0.0.1:${await freePort()}`,
    maxAttempts: 1,
  });
  gateway = await startGateway({
    catalog: catalog(upstream.url),
    adapters: { ledger: new DynamoLedger(unreachableStore, 'no-such-table') },
  });
  flakyGateway = await startGateway({
    catalog: catalog(upstream.url),
    wrapLedger: (real) => (flaky = new FailingLedger(real)),
  });
});

afterAll(async () => {
  await gateway.close();
  await flakyGateway.close();
  await upstream.close();
});

describe('an unreachable ledger', () => {
  it('refuses the call with 503 dependency_unavailable and never calls the model', async () => {
    const token = await gateway.token('acme');
    const invoke = await gateway.call('POST', '/v1/models/openai%2Fgpt-4o-mini:invoke', token, {
      request_id: 'ledger-down-1',
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(invoke.status).toBe(503);
    expect(invoke.body['error']).toMatchObject({ code: 'dependency_unavailable' });
    const chat = await gateway.call('POST', '/v1/chat/completions', token, {
      model: 'openai/gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(chat.status).toBe(503);
    expect(chat.headers.get('x-should-retry')).toBe('true');
    expect(upstream.requests).toHaveLength(0);
  });

  it('refuses the call with 503 and never calls the model when the ledger fails at the reservation', async () => {
    upstream.reset();
    flaky.failing = 'reserve';
    const invoke = await flakyGateway.call(
      'POST',
      '/v1/models/openai%2Fgpt-4o-mini:invoke',
      await flakyGateway.token('acme'),
      { request_id: 'reserve-down-1', messages: [{ role: 'user', content: 'hello' }] },
    );
    flaky.failing = undefined;
    expect(invoke.status).toBe(503);
    expect(invoke.body['error']).toMatchObject({ code: 'dependency_unavailable' });
    expect(upstream.requests).toHaveLength(0);
  });

  it('answers the call when the ledger fails at its settlement, and bills it once a retried settlement lands', async () => {
    upstream.reset();
    flaky.failing = 'settle';
    const token = await flakyGateway.token('settle-retried');
    const invoke = await flakyGateway.call('POST', '/v1/chat/completions', token, {
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
    });
    // The answer was delivered before its settlement ran; the store comes back before the retry.
    flaky.failing = undefined;
    expect(upstream.requests).toHaveLength(1);
    expect(invoke.status).toBe(200);
    expect(invoke.body).toHaveProperty('choices');
    const usage = await flakyGateway.call('GET', '/v1/usage?window=day', token);
    expect(usage.body['totals']).toMatchObject({ calls: 1 });
  });
});
