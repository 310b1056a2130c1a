import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../functions/model-policy/ports/model-provider-port.ts';
import { RouteFailure } from '../../../functions/model-policy/router/route-failure.ts';
import { RateLimitedError } from '../../../functions/shared/errors/agentos-error.ts';

const throttled = (provider: string) => ({
  provider,
  model: 'm',
  outcome: 'fallback' as const,
  reason: 'rate_limited',
  status: 429,
  latency_ms: 3,
});

describe('RouteFailure', () => {
  it('returns rate_limited naming the upstream limit, with the hops, when every backend throttled', () => {
    const last = new ProviderError('rate_limited', 'slow down', { status: 429 });
    const error = new RouteFailure([throttled('openai'), throttled('bedrock')], last, false).toApiError(
      'tier:fast',
    );
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error.message).toBe('Every model backend of this route is rate limited');
    expect(error.details).toEqual({
      route: { model_ref: 'tier:fast', hops: [throttled('openai'), throttled('bedrock')] },
      limit: 'upstream_rate_limit',
      retry_after_seconds: 2,
    });
    expect(error.cause).toBe(last);
  });
});
