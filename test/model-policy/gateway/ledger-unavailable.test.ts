import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoLedger } from '../../../functions/model-policy/adapters/dynamodb/dynamo-ledger.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { freePort } from '../../../cli/local/emulator.ts';
import { startFakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import { testAwsConfig } from '../../support/aws.ts';
import { pricedCatalog, startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

let upstream: FakeOpenAiServer;
let gateway: Gateway;

beforeAll(async () => {
  upstream = await startFakeOpenAiServer();
  // A ledger whose store does not answer: nothing listens on this port.
  const unreachable = createDocumentClient({
    ...testAwsConfig(),
    endpoint: `http://127.0.0.1:${await freePort()}`,
    maxAttempts: 1,
  });
  gateway = await startGateway({
    catalog: pricedCatalog(
      {
        backends: { fake: { kind: 'openai', base_url: upstream.url } },
        models: { 'openai/gpt-4o-mini': { backend: 'fake', model: 'gpt-4o-mini' } },
      },
      { input_usd_per_mtok: 0.15, output_usd_per_mtok: 0.6 },
    ),
    adapters: { ledger: new DynamoLedger(unreachable, 'no-such-table') },
  });
});

afterAll(async () => {
  await gateway.close();
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
});
