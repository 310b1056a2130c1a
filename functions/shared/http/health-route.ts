import { z } from 'zod';
import { DependencyUnavailableError } from '../errors/agentos-error.ts';
import type { RouteHandler } from './bound-route.ts';
import { defineRoute } from './route-spec.ts';

/** What `GET /v1/health` answers. */
export const HealthStatusSchema = z
  .strictObject({ status: z.literal('ok'), service: z.string() })
  .meta({ id: 'HealthStatus' });

/** The unauthenticated liveness operation every service serves. */
export const healthRoute = defineRoute({
  operationId: 'getHealth',
  method: 'GET',
  path: '/v1/health',
  scope: null,
  tags: ['Health'],
  summary: 'Liveness of the service',
  description: 'Unauthenticated; answers without touching any dependency.',
  responses: {
    200: {
      description: 'The service is up.',
      content: { 'application/json': { schema: HealthStatusSchema } },
    },
  },
});

/** The handler of {@link healthRoute} for one service. */
export function healthHandler(service: string): RouteHandler<typeof healthRoute> {
  return async () => ({ status: 200, json: { status: 'ok', service } });
}

/** A dependency's state as a readiness check saw it. */
export const dependencyStates = ['ok', 'unavailable'] as const;

/** What `GET /v1/health/ready` answers. */
export const ReadinessSchema = z
  .strictObject({
    status: z.literal('ready'),
    service: z.string(),
    /** Each dependency the service needs to answer, e.g. `table`. */
    dependencies: z.record(z.string(), z.enum(dependencyStates)),
  })
  .meta({ id: 'Readiness' });

/** The unauthenticated readiness operation: whether the service's dependencies answer. */
export const readinessRoute = defineRoute({
  operationId: 'getReadiness',
  method: 'GET',
  path: '/v1/health/ready',
  scope: null,
  tags: ['Health'],
  summary: 'Readiness of the service: its dependencies answer',
  description:
    'Unauthenticated. Probes each dependency with a short timeout; a result is reused for a few ' +
    'seconds, so the probe cannot be used to load the dependency.',
  responses: {
    200: {
      description: 'Every dependency answered.',
      content: { 'application/json': { schema: ReadinessSchema } },
    },
    503: {
      description:
        'dependency_unavailable: a dependency did not answer in time or failed; `details.dependencies` ' +
        'gives each dependency’s state.',
    },
  },
});

/**
 * Readiness timings: a probe answers within 2 s or counts as unavailable (an AWS client's own
 * retries would take longer); a result is reused for 5 s.
 */
export const readinessTiming = { timeoutMs: 2_000, cacheMs: 5_000 };

/** A dependency probe: resolves when the dependency answers, rejects otherwise. */
export type DependencyProbe = () => Promise<void>;

/** Options of {@link readinessHandler}. */
export type ReadinessOptions = {
  /** How long a probe may take before its dependency counts as unavailable. */
  timeoutMs: number;
  /** How long a result is reused. */
  cacheMs: number;
  now?: () => number;
  /** Where a failed probe is reported (it does not change the answer's shape, only its status). */
  reportFailure: (what: string, error: unknown, context?: Record<string, unknown>) => void;
};

async function probeWithin(probe: DependencyProbe, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([probe(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The handler of {@link readinessRoute}: runs every probe in parallel with a timeout, answers 200
 * when all answered, and otherwise 503 `dependency_unavailable` with each dependency's state in
 * `details.dependencies` (HLD §10.1).
 */
export function readinessHandler(
  service: string,
  probes: Record<string, DependencyProbe>,
  options: ReadinessOptions,
): RouteHandler<typeof readinessRoute> {
  const now = options.now ?? Date.now;
  let cached: { at: number; dependencies: Record<string, (typeof dependencyStates)[number]> } | undefined;
  return async () => {
    if (cached === undefined || now() - cached.at >= options.cacheMs) {
      cached = { at: now(), dependencies: await probeAll(probes, options) };
    }
    const { dependencies } = cached;
    if (Object.values(dependencies).some((state) => state !== 'ok')) {
      throw new DependencyUnavailableError('A dependency of the service does not answer', {
        details: { dependencies },
      });
    }
    return { status: 200, json: { status: 'ready' as const, service, dependencies } };
  };
}

async function probeAll(
  probes: Record<string, DependencyProbe>,
  options: ReadinessOptions,
): Promise<Record<string, (typeof dependencyStates)[number]>> {
  const entries = await Promise.all(
    Object.entries(probes).map(async ([name, probe]) => {
      try {
        await probeWithin(probe, options.timeoutMs);
        return [name, 'ok'] as const;
      } catch (error) {
        options.reportFailure('readiness probe failed', error, { dependency: name });
        return [name, 'unavailable'] as const;
      }
    }),
  );
  return Object.fromEntries(entries);
}
