import { Readable } from 'node:stream';
import type { RouteInput, RouteResult } from '../../shared/http/bound-route.ts';
import type { RateDecision } from '../../shared/limits/limiter-port.ts';
import { rateLimitHeaders } from '../../shared/limits/rate-limit-headers.ts';
import type { ModelCallInput } from '../invocation/model-call.ts';
import type { CallResult, StreamStart } from '../invocation/model-gateway.ts';
import { modelRequestRateOf } from '../invocation/model-request-rate.ts';
import { requestFingerprint } from '../invocation/request-fingerprint.ts';
import type { StoredCall } from '../schemas/stored-call.ts';
import { gatewayHeaders } from './openai-rendering.ts';

/**
 * What the OpenAI-compatible routes (chat completions, responses, embeddings) share around a model
 * call: the part of the call input every route fills alike, and the shape of their answers (the
 * gateway's `x-agentos-*` headers and the tenant's `RateLimit-*` fields, HLD §10.2).
 */

/** Headers of a streamed answer: no caching or proxy buffering of the event stream. */
const sseHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

/** The fields every route's call input carries: who calls, what for, and how a retry is recognised. */
export type CallBasis = Pick<
  ModelCallInput,
  | 'auth'
  | 'endpoint'
  | 'requestId'
  | 'fingerprint'
  | 'correlationId'
  | 'modelRef'
  | 'attribution'
  | 'signal'
  | 'requestRate'
>;

/**
 * The basis of a call input for `request`. `meaning` is the part of the body that decides the answer:
 * its fingerprint makes a retry under the same request id with another body a conflict.
 */
export function callBasis(
  request: RouteInput,
  endpoint: ModelCallInput['endpoint'],
  facts: { modelRef: string; requestId: string; meaning: unknown },
): CallBasis {
  return {
    auth: request.auth,
    endpoint,
    requestId: facts.requestId,
    fingerprint: requestFingerprint(endpoint, facts.modelRef, facts.meaning),
    correlationId: request.correlationId,
    modelRef: facts.modelRef,
    attribution: {},
    signal: request.signal,
    ...(request.tenant === undefined ? {} : { requestRate: modelRequestRateOf(request.tenant.quotas) }),
  };
}

/** The sampling options a body sets; OpenAI clients send `null` for "not set". */
export function samplingOf(body: {
  temperature?: number | null | undefined;
  top_p?: number | null | undefined;
}): Pick<ModelCallInput, 'temperature' | 'topP'> {
  return {
    ...(body.temperature === undefined || body.temperature === null ? {} : { temperature: body.temperature }),
    ...(body.top_p === undefined || body.top_p === null ? {} : { topP: body.top_p }),
  };
}

function rateHeaders(rateLimit: RateDecision | undefined): Record<string, string> {
  return rateLimit === undefined ? {} : rateLimitHeaders(rateLimit);
}

/** A finished call's JSON answer with the gateway's headers and the tenant's model call bucket. */
export function completedAnswer(requestId: string, outcome: CallResult, json: unknown): RouteResult {
  const { call, replayed, rateLimit } = outcome;
  return {
    status: 200,
    headers: {
      ...gatewayHeaders({
        requestId,
        route: call.route,
        policy: call.policy,
        replayed,
        costNano: call.usage.cost_nano,
      }),
      ...rateHeaders(rateLimit),
    },
    json,
  };
}

/**
 * A streamed answer: a replay renders the stored call (`replay`), a live call relays its deltas
 * (`live`); both with the event-stream headers, the gateway's headers and the model call bucket.
 */
export function streamedAnswer(
  requestId: string,
  start: StreamStart,
  render: {
    replay: (call: StoredCall) => Iterable<string> | AsyncIterable<string>;
    live: (start: Extract<StreamStart, { kind: 'live' }>) => AsyncIterable<string>;
  },
): RouteResult {
  const facts =
    start.kind === 'replay'
      ? { route: start.call.route, policy: start.call.policy, replayed: true }
      : { route: start.route, policy: start.policy, replayed: false };
  return {
    status: 200,
    headers: { ...sseHeaders, ...gatewayHeaders({ requestId, ...facts }), ...rateHeaders(start.rateLimit) },
    stream: Readable.from(start.kind === 'replay' ? render.replay(start.call) : render.live(start)),
  };
}
