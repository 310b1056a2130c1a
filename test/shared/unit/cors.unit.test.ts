import { describe, expect, it } from 'vitest';
import { corsEnv, corsPolicyFromEnv } from '../../../functions/shared/http/cors.ts';

const { AGENTOS_CORS_ALLOWED_ORIGINS, AGENTOS_CORS_ALLOW_CREDENTIALS } = corsEnv.names;

describe('corsPolicyFromEnv', () => {
  it('returns no policy (CORS off) when no origin is listed', () => {
    expect(corsPolicyFromEnv({})).toBeUndefined();
    expect(corsPolicyFromEnv({ [AGENTOS_CORS_ALLOWED_ORIGINS]: ' , ' })).toBeUndefined();
  });

  it('returns the listed origins, without credentials unless asked', () => {
    const env = { [AGENTOS_CORS_ALLOWED_ORIGINS]: 'https://app.example.com, http://localhost:3000' };
    expect(corsPolicyFromEnv(env)).toEqual({
      allowedOrigins: ['https://app.example.com', 'http://localhost:3000'],
      allowCredentials: false,
      maxAgeSeconds: 600,
    });
    expect(corsPolicyFromEnv({ ...env, [AGENTOS_CORS_ALLOW_CREDENTIALS]: 'true' })?.allowCredentials).toBe(
      true,
    );
  });

  it('throws naming the variable for an origin with a path, a wildcard or a bad credentials flag', () => {
    for (const origins of ['https://app.example.com/', '*', 'app.example.com']) {
      expect(() => corsPolicyFromEnv({ [AGENTOS_CORS_ALLOWED_ORIGINS]: origins })).toThrow(
        AGENTOS_CORS_ALLOWED_ORIGINS,
      );
    }
    expect(() =>
      corsPolicyFromEnv({
        [AGENTOS_CORS_ALLOWED_ORIGINS]: 'https://app.example.com',
        [AGENTOS_CORS_ALLOW_CREDENTIALS]: 'yes',
      }),
    ).toThrow(AGENTOS_CORS_ALLOW_CREDENTIALS);
  });
});
