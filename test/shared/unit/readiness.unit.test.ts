import { afterEach, describe, expect, it, vi } from 'vitest';
import { readinessHandler } from '../../../functions/shared/http/health-route.ts';

type Input = Parameters<ReturnType<typeof readinessHandler>>[0];
const input = {} as Input;

afterEach(() => {
  vi.useRealTimers();
});

describe('readinessHandler', () => {
  it('returns 200 ready when every dependency answers', async () => {
    const handler = readinessHandler(
      'svc',
      { table: async () => undefined },
      {
        timeoutMs: 100,
        cacheMs: 0,
        reportFailure: () => undefined,
      },
    );
    expect(await handler(input)).toEqual({
      status: 200,
      json: { status: 'ready', service: 'svc', dependencies: { table: 'ok' } },
    });
  });

  it('throws 503 dependency_unavailable naming a dependency that does not answer in time, and reports it', async () => {
    vi.useFakeTimers();
    const reported: unknown[] = [];
    const handler = readinessHandler(
      'svc',
      { table: () => new Promise<void>(() => undefined), queue: async () => undefined },
      {
        timeoutMs: 2_000,
        cacheMs: 0,
        reportFailure: (what, _error, context) => reported.push({ what, context }),
      },
    );
    const answer = handler(input).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await answer).toMatchObject({
      status: 503,
      code: 'dependency_unavailable',
      details: { dependencies: { table: 'unavailable', queue: 'ok' } },
    });
    expect(reported).toEqual([{ what: 'readiness probe failed', context: { dependency: 'table' } }]);
  });

  it('reuses a result for cacheMs, so probes cannot be used to load the dependency', async () => {
    let now = 0;
    let probes = 0;
    const handler = readinessHandler(
      'svc',
      {
        table: async () => {
          probes += 1;
        },
      },
      { timeoutMs: 100, cacheMs: 5_000, now: () => now, reportFailure: () => undefined },
    );
    await handler(input);
    now = 4_999;
    await handler(input);
    expect(probes).toBe(1);
    now = 5_000;
    await handler(input);
    expect(probes).toBe(2);
  });
});
