import type { Readable } from 'node:stream';
import type { AuthContext } from '../auth/auth-context.ts';

/** An HTTP request as route handlers see it: decoded, with lower-cased header names. */
export type ApiRequest = {
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string | undefined;
  correlationId: string;
  /** Set on authenticated routes. */
  auth: AuthContext;
  /** Aborted when a streaming client goes away; buffered handlers get one that fires after 15 minutes. */
  signal: AbortSignal;
};

/** A buffered JSON response. */
export type JsonResponse = { status: number; headers?: Record<string, string>; json: unknown };

/** A streamed response (only streaming handlers may return one). */
export type StreamResponse = { status: number; headers: Record<string, string>; stream: Readable };

export type ApiResponse = JsonResponse | StreamResponse;

/** One route of an API: a method, a path template such as `/v1/runs/{run_id}:cancel`, and a handler. */
export type Route = {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** The scope the caller must hold; `null` for unauthenticated routes such as health. */
  scope: string | null;
  handle(request: ApiRequest): Promise<ApiResponse>;
};
