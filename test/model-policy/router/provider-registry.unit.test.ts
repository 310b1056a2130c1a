import { describe, expect, it } from 'vitest';
import type { ModelProvider } from '../../../functions/model-policy/ports/model-provider-port.ts';
import { ProviderRegistry } from '../../../functions/model-policy/router/provider-registry.ts';
import type { ModelCatalog } from '../../../functions/model-policy/schemas/model-catalog.ts';

const catalog = {
  backends: {
    keyed: { kind: 'openai', base_url: 'http://upstream.test/v1', api_key: 'env:KEY', timeout_ms: 1000 },
    role: { kind: 'bedrock', region: 'us-east-1', timeout_ms: 1000 },
  },
  models: {},
  tiers: {},
  price_tables: [],
} as unknown as ModelCatalog;

/** A provider that remembers the secret it was built with and whether it was closed. */
type BuiltProvider = ModelProvider & { secret: string | undefined; closed: boolean };

function harness() {
  const secrets = { KEY: 'first-key' };
  let nowMs = 0;
  const built: BuiltProvider[] = [];
  const reported: { what: string; error: unknown }[] = [];
  const registry = new ProviderRegistry(
    catalog,
    async (_id, _backend, secret) => {
      const provider: BuiltProvider = {
        kind: 'fake',
        secret,
        closed: false,
        complete: () => Promise.reject(new Error('not called')),
        stream: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('x')) }) }),
        close() {
          provider.closed = true;
        },
      };
      built.push(provider);
      return provider;
    },
    {
      resolve: async (reference) => {
        if (secrets.KEY === 'unreadable') throw new Error('secret store down');
        return secrets[reference.slice('env:'.length) as 'KEY'];
      },
    },
    (what, error) => reported.push({ what, error }),
    () => nowMs,
  );
  return {
    registry,
    built,
    secrets,
    reported,
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

/** Lets a background credential check finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('ProviderRegistry', () => {
  it('keeps its warm provider while the credentials it was built with stay the same', async () => {
    const { registry, built, advance } = harness();
    const first = await registry.providerFor('keyed');
    advance(60 * 60_000);
    await registry.providerFor('keyed');
    await settle();
    expect(await registry.providerFor('keyed')).toBe(first);
    expect(built).toHaveLength(1);
  });

  it('never rebuilds a provider that uses the function role', async () => {
    const { registry, built, advance } = harness();
    const first = await registry.providerFor('role');
    advance(60 * 60_000);
    expect(await registry.providerFor('role')).toBe(first);
    expect(built).toHaveLength(1);
  });

  it('rebuilds a provider when its secret rotated, and closes the replaced one after calls could end', async () => {
    const { registry, built, secrets, advance } = harness();
    await registry.providerFor('keyed');
    secrets.KEY = 'rotated-key';
    advance(10 * 60_000);
    await registry.providerFor('keyed');
    await settle();
    const current = (await registry.providerFor('keyed')) as BuiltProvider;
    expect(current.secret).toBe('rotated-key');
    expect(built).toHaveLength(2);
    expect(built[0]!.closed).toBe(false);
    advance(16 * 60_000);
    await registry.providerFor('keyed');
    expect(built[0]!.closed).toBe(true);
    expect(current.closed).toBe(false);
  });

  it('keeps serving with the current provider and reports a credential refresh that failed', async () => {
    const { registry, built, secrets, advance, reported } = harness();
    const first = await registry.providerFor('keyed');
    secrets.KEY = 'unreadable';
    advance(10 * 60_000);
    expect(await registry.providerFor('keyed')).toBe(first);
    await settle();
    expect(built).toHaveLength(1);
    expect(reported).toEqual([
      {
        what: 'backend credentials could not be refreshed',
        error: expect.objectContaining({ cause: new Error('secret store down') }),
      },
    ]);
  });
});
