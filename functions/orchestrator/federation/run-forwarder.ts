import type { AuthContext } from '../../shared/auth/auth-context.ts';
import {
  DependencyUnavailableError,
  ForbiddenError,
  InvalidRequestError,
  NotFoundError,
} from '../../shared/errors/agentos-error.ts';
import { errorFromResponse } from '../../shared/errors/error-from-envelope.ts';
import type { PeerRegistryPort } from '../ports/peer-registry-port.ts';
import type { RunInput } from '../schemas/run.ts';
import { federationScopes } from './federation-scopes.ts';
import type { PeerTokenIssuer } from './peer-tokens.ts';
import { PeerCapabilitiesSchema } from './schemas/peer-capabilities.ts';
import type { PeerCapabilities } from './schemas/peer-capabilities.ts';
import { federationProtocolVersions } from './schemas/peer-identity.ts';
import { peerTenantOf } from './schemas/peer.ts';
import type { Peer } from './schemas/peer.ts';
import { CanceledForwardedRunSchema, ForwardedRunSchema } from './schemas/run-forwarding.ts';
import type { CanceledForwardedRun, ForwardedRun, ForwardRunRequest } from './schemas/run-forwarding.ts';

/** What a local caller asks to run on a peer. */
export type ForwardRequest = {
  peerId: string;
  agentId: string;
  input: RunInput;
  metadata?: Record<string, string>;
  /** Makes the forward safe to retry: the same key returns the run forwarded first. */
  forwardKey: string;
  traceparent: string;
  /** The local run this forward serves, if any. */
  originRunId?: string;
};

/** Settings of {@link createRunForwarder}. */
export type RunForwarderOptions = {
  /** This node's id: the `iss` of its peer tokens and the forwarded run's origin. */
  nodeId: string;
  peers: Pick<PeerRegistryPort, 'get'>;
  issuer: PeerTokenIssuer;
  fetch?: typeof globalThis.fetch;
  /** Per attempt, for the capabilities and the forward alike. */
  timeoutMs?: number;
  /** Attempts of a forward that met a network failure or a 5xx (the forward key makes them safe). */
  attempts?: number;
  /**
   * The whole time a cancel sent to a peer may take, its attempts included: it is sent while the
   * client's cancel request waits, well within that request's deadline.
   */
  cancelBudgetMs?: number;
};

/** A peer's JSON answer; a body that is no JSON reads as `undefined`, which no schema accepts. */
async function answerOf(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // Handled by the caller as an answer it cannot read (every schema refuses `undefined`).
    return error instanceof SyntaxError ? undefined : Promise.reject(error);
  }
}

/** Why a peer's capabilities do not meet a forward, or nothing when they do. */
export function capabilityMismatches(
  capabilities: PeerCapabilities,
  peerId: string,
  body: ForwardRunRequest,
): string[] {
  const problems: string[] = [];
  if (capabilities.node_id !== peerId)
    problems.push(`it answers as node ${capabilities.node_id}, not ${peerId}`);
  if (!capabilities.features.run_forwarding) problems.push('it does not accept forwarded runs');
  if (!capabilities.protocol_versions.includes(body.protocol_version))
    problems.push(
      `it does not speak ${body.protocol_version} (it speaks ${capabilities.protocol_versions.join(', ')})`,
    );
  const sent = new Set(Object.keys(body));
  const missing = capabilities.required_fields.forward_run.filter((field) => !sent.has(field));
  if (missing.length > 0) problems.push(`it requires fields this node does not send: ${missing.join(', ')}`);
  if (body.input.messages.length > capabilities.limits.max_input_messages)
    problems.push(
      `the input has ${body.input.messages.length} messages; it takes at most ${capabilities.limits.max_input_messages}`,
    );
  const bytes = Buffer.byteLength(JSON.stringify(body));
  if (bytes > capabilities.limits.max_request_bytes)
    problems.push(`the request is ${bytes} bytes; it takes at most ${capabilities.limits.max_request_bytes}`);
  return problems;
}

/**
 * The calling side of run forwarding (HLD §7.2, §7.3): checks that the caller's tenant may federate
 * with the peer, reads the peer's capabilities and refuses, before anything is created anywhere, a
 * peer they do not meet; then forwards with a fresh peer token per attempt, the forward key as the
 * Idempotency-Key, and the caller's traceparent.
 */
export function createRunForwarder(options: RunForwarderOptions) {
  const fetcher = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const attempts = options.attempts ?? 3;
  const cancelBudgetMs = options.cancelBudgetMs ?? 5_000;

  async function capabilitiesOf(baseUrl: string, peerId: string): Promise<PeerCapabilities> {
    let response: Response;
    try {
      response = await fetcher(`${baseUrl.replace(/\/+$/, '')}/v1/peer/capabilities`, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new DependencyUnavailableError(`Peer ${peerId} could not be reached`, { cause });
    }
    const parsed = response.ok ? PeerCapabilitiesSchema.safeParse(await answerOf(response)) : undefined;
    if (parsed === undefined || !parsed.success)
      throw new DependencyUnavailableError(`Peer ${peerId} did not answer its capabilities`);
    return parsed.data;
  }

  /**
   * Checks everything that can be checked before anything is created anywhere: the peer is
   * trusted, the caller's tenant federates with it, its capabilities meet the forward. The answer
   * sends it.
   */
  async function prepare(
    auth: AuthContext,
    request: ForwardRequest,
  ): Promise<{ peer: Peer; send(originRunId?: string): Promise<ForwardedRun> }> {
    const peer = await options.peers.get(request.peerId);
    // A peer the tenant may not use answers as one that does not exist: the node's other tenants'
    // peers are none of its business (HLD §5.2).
    if (peer === undefined || peerTenantOf(peer, auth.tenant_id) === undefined)
      throw new NotFoundError(`Peer ${request.peerId} not found`);
    const bodyFor = (originRunId: string | undefined): ForwardRunRequest => ({
      protocol_version: federationProtocolVersions[0],
      agent_id: request.agentId,
      input: request.input,
      ...(request.metadata === undefined ? {} : { metadata: request.metadata }),
      origin: { node_id: options.nodeId, ...(originRunId === undefined ? {} : { run_id: originRunId }) },
    });
    // The origin run id is not known yet; a run id has the same length whatever it is.
    const checked = bodyFor(request.originRunId ?? 'run_00000000000000000000000000');
    const problems = capabilityMismatches(
      await capabilitiesOf(peer.base_url, peer.peer_id),
      peer.peer_id,
      checked,
    );
    if (problems.length > 0)
      throw new InvalidRequestError(
        `Peer ${peer.peer_id} cannot take this run: ${problems.join('; ')}`,
        problems.map((message) => ({ field: 'peer_id', message })),
      );
    return {
      peer,
      send: (originRunId = request.originRunId) => send(auth, request, peer, bodyFor(originRunId)),
    };
  }

  /**
   * One attempt of a peer call: a fresh peer token (they are single-use), the JSON body, the
   * traceparent. A network failure or an answer worth retrying comes back as `retry`.
   */
  async function attempt(
    auth: AuthContext,
    peer: Peer,
    call: {
      path: string;
      body: unknown;
      traceparent: string;
      timeoutMs: number;
      headers?: Record<string, string>;
      retryStatus(status: number): boolean;
    },
  ): Promise<{ retry: unknown; waitMs?: number } | { status: number; answer: unknown }> {
    const token = await options.issuer.issue({
      audience: peer.peer_id,
      tenantId: auth.tenant_id,
      principal: auth.principal.id,
      scopes: [federationScopes.runsForward],
      traceparent: call.traceparent,
    });
    let response: Response;
    try {
      response = await fetcher(`${peer.base_url.replace(/\/+$/, '')}${call.path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          ...call.headers,
          traceparent: call.traceparent,
        },
        body: JSON.stringify(call.body),
        signal: AbortSignal.timeout(call.timeoutMs),
      });
    } catch (cause) {
      return { retry: cause };
    }
    let answer: unknown;
    try {
      answer = await answerOf(response);
    } catch (cause) {
      // The connection broke while the answer was read: as retryable as one that never came.
      return { retry: cause };
    }
    if (call.retryStatus(response.status)) {
      const seconds = Number(response.headers.get('retry-after'));
      return {
        retry: new Error(`peer answered ${response.status}`),
        ...(Number.isFinite(seconds) && seconds > 0 ? { waitMs: seconds * 1000 } : {}),
      };
    }
    return { status: response.status, answer };
  }

  /**
   * Waits before attempt `tried + 1`: the peer's Retry-After when it gave one, else 100 ms doubling
   * with jitter, never past `deadline` (epoch ms).
   */
  async function pause(tried: number, waitMs: number | undefined, deadline: number): Promise<void> {
    const backoff = waitMs ?? 100 * 2 ** (tried - 1) * (0.5 + Math.random() / 2);
    const ms = Math.min(backoff, deadline - Date.now());
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** A peer's refusal as this node's error; its refusing this node's token is a trust problem. */
  function refusalOf(peer: Peer, status: number, answer: unknown): Error {
    const refusal = errorFromResponse(status, answer, `Peer ${peer.peer_id}`);
    // The local caller's own token is fine: a peer refusing this node's token is a trust problem
    // between the nodes, said as such rather than as the caller's 401.
    return refusal.code === 'unauthorized'
      ? new ForbiddenError(
          `Peer ${peer.peer_id} does not accept this node's peer token: ${refusal.message}`,
          {
            cause: refusal,
          },
        )
      : refusal;
  }

  async function send(
    auth: AuthContext,
    request: ForwardRequest,
    peer: Peer,
    body: ForwardRunRequest,
  ): Promise<ForwardedRun> {
    let last: unknown;
    // Between attempts at most a second in all: the caller waits for the forward.
    const pausesEnd = Date.now() + 1_000;
    for (let tried = 1; tried <= attempts; tried++) {
      const result = await attempt(auth, peer, {
        path: '/v1/federation/runs:forward',
        body,
        traceparent: request.traceparent,
        timeoutMs,
        headers: { 'idempotency-key': request.forwardKey },
        retryStatus: (status) => status >= 500,
      });
      if ('retry' in result) {
        last = result.retry;
        if (tried < attempts) await pause(tried, undefined, pausesEnd);
        continue;
      }
      if (result.status === 200 || result.status === 201) {
        const forwarded = ForwardedRunSchema.safeParse(result.answer);
        if (forwarded.success) return forwarded.data;
        throw new DependencyUnavailableError(`Peer ${peer.peer_id} answered a forward this node cannot read`);
      }
      throw refusalOf(peer, result.status, result.answer);
    }
    throw new DependencyUnavailableError(`Peer ${peer.peer_id} could not take the forward; retry`, {
      cause: last,
    });
  }

  /**
   * Cancels the run `remoteRunId` this node forwarded to `peerId`: up to {@link RunForwarderOptions.attempts}
   * attempts for a network failure, a 5xx or a 429, each with a fresh peer token, all within the cancel
   * budget (cancelling is idempotent on the peer, so a repeat is safe).
   *
   * @throws the peer's refusal (e.g. NotFoundError), ForbiddenError when it refuses this node's token, DependencyUnavailableError when it could not be reached in time
   */
  async function cancel(
    auth: AuthContext,
    request: { peerId: string; remoteRunId: string; traceparent: string },
  ): Promise<CanceledForwardedRun> {
    const peer = await options.peers.get(request.peerId);
    if (peer === undefined || peerTenantOf(peer, auth.tenant_id) === undefined)
      throw new NotFoundError(`Peer ${request.peerId} not found`);
    const deadline = Date.now() + cancelBudgetMs;
    let last: unknown;
    for (let tried = 1; tried <= attempts; tried++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const result = await attempt(auth, peer, {
        path: '/v1/federation/runs:cancel',
        body: { run_id: request.remoteRunId },
        traceparent: request.traceparent,
        timeoutMs: Math.min(timeoutMs, left),
        retryStatus: (status) => status >= 500 || status === 429,
      });
      if ('retry' in result) {
        last = result.retry;
        // Half of what is left at most, so the next attempt keeps time of its own.
        if (tried < attempts) await pause(tried, result.waitMs, Date.now() + (deadline - Date.now()) / 2);
        continue;
      }
      if (result.status === 200) {
        const canceled = CanceledForwardedRunSchema.safeParse(result.answer);
        if (canceled.success) return canceled.data;
        throw new DependencyUnavailableError(`Peer ${peer.peer_id} answered a cancel this node cannot read`);
      }
      throw refusalOf(peer, result.status, result.answer);
    }
    throw new DependencyUnavailableError(`Peer ${peer.peer_id} could not be reached to cancel the run`, {
      cause: last,
    });
  }

  return {
    prepare,
    cancel,
    /** The peer's capabilities, read now (HLD §7.2). */
    capabilities: (peer: Pick<Peer, 'base_url' | 'peer_id'>) => capabilitiesOf(peer.base_url, peer.peer_id),
    /** Checks the forward ({@link prepare}) and sends it. */
    async forward(auth: AuthContext, request: ForwardRequest): Promise<ForwardedRun> {
      return (await prepare(auth, request)).send();
    },
  };
}

/** The calling side of run forwarding. */
export type RunForwarder = ReturnType<typeof createRunForwarder>;
