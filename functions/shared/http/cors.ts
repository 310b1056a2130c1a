import { z } from 'zod';
import type { EnvSource } from '../config/env.ts';
import { defineEnvContract, envVar } from '../config/env-contract.ts';

/**
 * Cross-origin access for browsers (Fetch standard, CORS protocol): which web origins may call a
 * service's API from a page, and whether with credentials (cookies, HTTP auth). Off unless a node
 * lists origins, so a page of another origin cannot read an answer.
 */
export type CorsPolicy = {
  /** Exact origins (`https://app.example.com`), as a browser sends them in `Origin`. */
  allowedOrigins: readonly string[];
  /** Sends `Access-Control-Allow-Credentials: true`. */
  allowCredentials: boolean;
  /** How long a browser may cache a preflight's answer. */
  maxAgeSeconds: number;
};

/** Request headers a page may send: bearer auth, JSON bodies, idempotent retries, stream resumption. */
export const corsAllowedHeaders = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'If-Match',
  'Last-Event-ID',
  'X-Correlation-Id',
] as const;

/** Response headers a page may read besides the CORS-safelisted ones. */
export const corsExposedHeaders = [
  'Retry-After',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Location',
  'ETag',
  'Idempotent-Replayed',
  'WWW-Authenticate',
  'X-Correlation-Id',
] as const;

/** An origin: scheme, host and port only, serialized as a browser does (no trailing slash, path or query). */
export const CorsOriginSchema = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
    } catch {
      return false;
    }
  },
  { error: 'must list origins such as https://app.example.com (scheme, host and port only)' },
);

/**
 * The CORS settings of an HTTP function: comma-separated allowed origins (unset: CORS off),
 * credentials (`true`/`false`, off by default) and the preflight cache lifetime.
 */
export const corsEnv = defineEnvContract({
  AGENTOS_CORS_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .transform((raw) =>
      (raw ?? '')
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== ''),
    )
    .pipe(z.array(CorsOriginSchema).max(64)),
  AGENTOS_CORS_ALLOW_CREDENTIALS: z
    .string()
    .optional()
    .transform((raw) => raw?.trim() || 'false')
    .pipe(z.enum(['true', 'false'], { error: 'must be true or false' }))
    .transform((value) => value === 'true'),
  AGENTOS_CORS_MAX_AGE_SECONDS: envVar.int({ default: 600, min: 0, max: 86_400 }),
});

/** Reads a function's CORS policy; undefined (CORS off) when it lists no origin. */
export function corsPolicyFromEnv(env: EnvSource = process.env): CorsPolicy | undefined {
  const values = corsEnv.parse(env);
  if (values.AGENTOS_CORS_ALLOWED_ORIGINS.length === 0) return undefined;
  return {
    allowedOrigins: values.AGENTOS_CORS_ALLOWED_ORIGINS,
    allowCredentials: values.AGENTOS_CORS_ALLOW_CREDENTIALS,
    maxAgeSeconds: values.AGENTOS_CORS_MAX_AGE_SECONDS,
  };
}

/** The headers of a preflight answer for an allowed origin. */
export function preflightHeaders(policy: CorsPolicy, origin: string, methods: readonly string[]) {
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': methods.join(', '),
    'access-control-allow-headers': corsAllowedHeaders.join(', '),
    'access-control-max-age': String(policy.maxAgeSeconds),
    ...(policy.allowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
    vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
  };
}

/** Adds what an actual (non-preflight) answer to an allowed origin carries. */
export function addCorsHeaders(headers: Headers, policy: CorsPolicy, origin: string | undefined): void {
  // The answer depends on Origin whenever CORS is on, allowed or not, so caches keep them apart.
  headers.append('vary', 'Origin');
  if (origin === undefined || !policy.allowedOrigins.includes(origin)) return;
  headers.set('access-control-allow-origin', origin);
  headers.set('access-control-expose-headers', corsExposedHeaders.join(', '));
  if (policy.allowCredentials) headers.set('access-control-allow-credentials', 'true');
}
