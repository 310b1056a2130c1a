import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { AssistantMessage, ChatMessage } from '../../shared/contracts/chat.ts';
import type { NewEvent, RunEvent } from '../schemas/event.ts';
import type { RateBucket, RateDecision, RateLimiterPort } from '../../shared/limits/limiter-port.ts';
import type {
  RunError,
  RunFederation,
  RunInput,
  RunStatus,
  RunStatusReason,
  RunUsage,
} from '../schemas/run.ts';
import type { StepRecord } from '../schemas/step.ts';

/** A run as stored: the API view plus what the runtime needs to resume it. */
export type RunRecord = {
  run_id: string;
  tenant_id: string;
  agent_id: string;
  /** The agent version the run runs; later versions or a deleted agent do not change it. */
  agent_version: number;
  /** `long` runs are driven by a Step Functions execution, `standard` ones by the step queue. */
  mode: 'standard' | 'long';
  /** The Step Functions execution of a `long` run, once started. */
  execution_arn: string | null;
  principal_id: string;
  /**
   * The Auth Context of the request that created the run (it holds no token or secret), which its
   * steps run with: any run ending can then wake this one when it waits for a slot (HLD §3.3,
   * §10.2). Absent on runs stored before it existed.
   */
  auth?: AuthContext;
  status: RunStatus;
  input: RunInput;
  output: { message: AssistantMessage } | null;
  error: RunError | null;
  metadata: Record<string, string>;
  /**
   * Size of the conversation after the input (each step's assistant and tool messages), which is
   * stored in its own items and read with `readTranscript`, so a run is not bounded by one item.
   */
  transcript_messages: number;
  transcript_bytes: number;
  steps_completed: number;
  last_sequence: number;
  usage: RunUsage;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  ended_at: string | null;
  /** When the first step was handed to the queue; lets an idempotent retry re-schedule a run whose enqueue failed. */
  scheduled_at: string | null;
  /**
   * The step of the queue message under which a worker went on with the run's next step instead of
   * queueing it (HLD §4.3, chained steps): a redelivery of that message goes on with the run. Null
   * (or absent) while the run's next step is queued.
   */
  chain_step?: number | null;
  /**
   * Why a queued (or running) run waits for a slot (HLD §10.2): `waiting_for_run_slot`,
   * `waiting_for_node_capacity`; null (or absent, on runs stored before it existed) otherwise.
   */
  status_reason?: RunStatusReason | null;
  /** A run forwarded to a peer (HLD §7.3): the peer and its run. Absent on every other run. */
  federation?: Omit<RunFederation, 'replicated_sequence'>;
  /**
   * How far a forwarded run's events on the peer are replicated here (HLD §7.4). Kept apart from
   * `federation`, so the ingest and the forward's link each change only their own field.
   */
  replicated_sequence?: number;
};

/** Fields a commit may change besides status and sequence. */
export type RunChanges = Partial<
  Pick<
    RunRecord,
    | 'output'
    | 'error'
    | 'execution_arn'
    | 'steps_completed'
    | 'usage'
    | 'started_at'
    | 'ended_at'
    | 'scheduled_at'
    | 'chain_step'
    | 'status_reason'
    | 'federation'
    | 'replicated_sequence'
  >
>;

/** One atomic change to a run: append events and optionally change status and fields. */
export type RunCommit = {
  /** The commit applies only while the run is in one of these states. */
  requireStatus: readonly RunStatus[];
  /** New status, when the commit is a transition. */
  status?: RunStatus;
  changes?: RunChanges;
  events: NewEvent[];
  /** Messages appended to the transcript in the same atomic change (the run's counters follow). */
  appendTranscript?: ChatMessage[];
  /** A step record stored (or replaced) in the same atomic change. */
  step?: StepRecord;
  /** The commit throws RunTooLargeError instead of taking `transcript_bytes` past this. */
  maxTranscriptBytes?: number;
  /**
   * The commit applies only while the run's `last_sequence` is this one, else it throws
   * RunMovedOnError: a caller whose changes derive from what it read (event replication, HLD §7.4)
   * reads again rather than writing over a newer state.
   */
  requireLastSequence?: number;
};

/** What a commit did. `events` holds, for each requested event, the stored one (new or already present). */
export type CommitResult = { run: RunRecord; events: RunEvent[]; appended: number };

/** How run creation is made idempotent. */
export type IdempotencyClaim = {
  /** Hash of key + tenant + principal + agent. */
  scopeHash: string;
  /** Hash of the request body. */
  requestHash: string;
  /** Epoch seconds after which the claim may be forgotten. */
  expiresAt: number;
};

/**
 * A rate bucket a run's creation takes one from (HLD §10.2: the tenant's run rate), and the limiter
 * that holds it. A store that shares the limiter's table takes it in the very write that creates
 * the run: then it is taken exactly when the run is stored. Any other limiter (or the same one,
 * while another creation's write holds the bucket) is taken on its own just before that write,
 * once no live claim answers the creation; a same-key creation stored in between, or a write that
 * then fails, leaves that one token spent.
 */
export type RunCreationRate = { bucket: RateBucket; limiter: RateLimiterPort };

export type CreateRunResult =
  | {
      outcome: 'created';
      run: RunRecord;
      events: RunEvent[];
      /** What the creation's rate take came to (when a `rate` was given): the `RateLimit-*` headers. */
      rate?: RateDecision;
    }
  | { outcome: 'replayed'; run: RunRecord }
  | { outcome: 'key_reused' }
  /** The rate bucket refused this creation; nothing was written. */
  | { outcome: 'rate_limited'; rate: RateDecision };

/** What a live idempotency claim answers: the run it created, or that the key was used for another request. */
export type ClaimedRun = Exclude<CreateRunResult, { outcome: 'created' } | { outcome: 'rate_limited' }>;

/**
 * Most a run's own fields (input, metadata, output, error) may take, as JSON, and also one event's
 * data or one step record (each is one item of at most 400 KB); the transcript, events and steps are
 * stored apart and are bounded by the agent's `max_transcript_bytes` and `max_steps`.
 * Both adapters measure a record the same way ({@link runRecordBytes}).
 */
export const maxRunRecordBytes = 300 * 1024;

/**
 * Most one commit may append to a transcript (one step's assistant message and tool results): a
 * commit is one transaction, and a transaction holds at most 4 MB.
 */
export const maxStepTranscriptBytes = 3 * 1024 * 1024;

/**
 * Most one commit may write in all: a commit is one DynamoDB transaction (HLD §4.2), and a
 * transaction holds at most 4 MB of items. The measure adds up the appended transcript, the step
 * record, each new event, the run's own fields and an allowance per item for keys and attribute
 * names (the same on every adapter). A commit past it is refused with RunTooLargeError
 * (`commit size limit`) before anything is written, instead of failing in DynamoDB as if storage were
 * unavailable.
 */
export const maxCommitBytes = 4 * 1024 * 1024;

/**
 * Most run-index entries one `listRuns` call examines (HLD §4.2): with a `status` filter the
 * entries of other statuses are read and left out, so a rare status in a large tenant would
 * otherwise read the whole index in one request. When the bound is reached first, the page holds
 * the matching runs found so far (possibly fewer than `limit`, possibly none) and a `nextCursor`
 * after the last entry examined. Without a filter a page needs only `limit + 1` entries, well under
 * this.
 */
export const maxRunIndexEntriesPerList = 250;

/** The size of a run record as the limit measures it: its JSON in UTF-8. */
export function runRecordBytes(run: RunRecord): number {
  return Buffer.byteLength(JSON.stringify(run), 'utf8');
}

/** The size of one transcript message as `transcript_bytes` counts it: its JSON in UTF-8. */
export function messageBytes(message: ChatMessage): number {
  return Buffer.byteLength(JSON.stringify(message), 'utf8');
}

/** Raised by `commit` when the run is not in a required state (e.g. it was canceled meanwhile). */
export class RunStateConflictError extends Error {
  readonly actual: RunStatus;
  constructor(actual: RunStatus) {
    super(`Run is ${actual}`);
    this.name = 'RunStateConflictError';
    this.actual = actual;
  }
}

/** Raised by `commit` when the run's `last_sequence` is not the one the commit required. */
export class RunMovedOnError extends Error {
  readonly actual: number;
  constructor(actual: number) {
    super(`Run is at sequence ${actual}`);
    this.name = 'RunMovedOnError';
    this.actual = actual;
  }
}

/**
 * Raised when a commit would take a run's transcript past the limit the caller set
 * (`maxTranscriptBytes`), or a run's own fields past {@link maxRunRecordBytes}.
 */
export class RunTooLargeError extends Error {
  readonly bytes: number;
  readonly limit: number;
  /** Which limit: the caller's `max_transcript_bytes`, or one of the store's own limits. */
  readonly limitName: string;
  constructor(bytes: number, limit: number, limitName = 'max_transcript_bytes') {
    super(`The run would take ${bytes} bytes, past its ${limitName} of ${limit} bytes`);
    this.name = 'RunTooLargeError';
    this.bytes = bytes;
    this.limit = limit;
    this.limitName = limitName;
  }
}

/**
 * Persists runs and their ordered event log (HLD §3.1 RunStatePort). Every call is scoped by the
 * Auth Context's tenant. Appends are atomic with the state change they accompany, assign gapless
 * sequences, and skip events whose `event_id` is already stored.
 */
export interface RunStatePort {
  /**
   * Stores a new run with its first events, under its idempotency claim when given: a live claim
   * answers the run it created (`replayed`) or `key_reused`, and nothing is written. `rate`: the
   * bucket the creation takes one from; `rate_limited` when it refuses, nothing written.
   */
  createRun(
    auth: AuthContext,
    run: RunRecord,
    events: NewEvent[],
    idempotency?: IdempotencyClaim,
    rate?: RunCreationRate,
  ): Promise<CreateRunResult>;
  /**
   * What creating a run with this claim would do about its key, without creating anything: the run
   * a live claim with the same request created (`replayed`), `key_reused` for another request, or
   * undefined when no live claim exists as of `at` (ISO time). Lets a replay answer even after the
   * agent is gone.
   */
  findIdempotentRun(auth: AuthContext, claim: IdempotencyClaim, at: string): Promise<ClaimedRun | undefined>;
  getRun(auth: AuthContext, runId: string): Promise<RunRecord | undefined>;
  /**
   * The run's status alone, read without its input, metadata and Auth Context (one small read):
   * for a step watching whether its run ended during its model call (HLD §5.2). Undefined for an
   * unknown run (or one of another tenant). Optional: a port without it is read with `getRun`.
   */
  getRunStatus?(auth: AuthContext, runId: string): Promise<RunStatus | undefined>;
  commit(auth: AuthContext, runId: string, commit: RunCommit): Promise<CommitResult>;
  listEvents(auth: AuthContext, runId: string, page: { after: number; limit: number }): Promise<RunEvent[]>;
  /** The stored events among these ids, in the order asked (ids not stored are left out). */
  getEvents(auth: AuthContext, runId: string, eventIds: readonly string[]): Promise<RunEvent[]>;
  /**
   * The run's transcript in order; with `maxBytes`, only the newest whole messages that fit, never
   * starting with a tool result whose assistant call was cut off.
   */
  readTranscript(auth: AuthContext, runId: string, options?: { maxBytes?: number }): Promise<ChatMessage[]>;
  /** Step records after `after`, in step order. */
  listSteps(auth: AuthContext, runId: string, page: { after: number; limit: number }): Promise<StepRecord[]>;
  /**
   * The tenant's runs, newest first; `cursor` is opaque and comes from the previous page. One call
   * examines at most {@link maxRunIndexEntriesPerList} index entries, so with a `status` filter a
   * page may hold fewer than `limit` runs, or none, and still carry a `nextCursor`: the caller
   * follows cursors until `nextCursor` is null, and sees every matching run once, in order.
   */
  listRuns(auth: AuthContext, query: RunListQuery): Promise<{ runs: RunRecord[]; nextCursor: string | null }>;
}

/** Which runs `listRuns` returns. */
export type RunListQuery = {
  status?: RunStatus;
  /** Only this principal's runs (a member without `runs:read:all` sees only its own). */
  principalId?: string;
  limit: number;
  cursor?: string;
};
