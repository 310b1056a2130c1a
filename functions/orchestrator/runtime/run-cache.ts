import type { ChatMessage } from '../../shared/contracts/chat.ts';
import { BoundedCache } from '../../shared/cache/bounded-cache.ts';
import { transcriptTail } from '../adapters/transcript-tail.ts';
import { messageBytes } from '../ports/run-state-port.ts';
import type { RunCommit, RunRecord } from '../ports/run-state-port.ts';
import { isTerminal } from './run-state-machine.ts';

/** The newest transcript messages a step sends its model, and what they were read or written at. */
type CachedTranscript = {
  /** The tail within `maxBytes` of the run's first `count` transcript messages. */
  messages: ChatMessage[];
  count: number;
  maxBytes: number;
};

type Entry = { run: RunRecord; transcript?: CachedTranscript };

/** Bounds of a {@link RunCache}. */
export type RunCacheOptions = {
  /** Runs remembered at most (default 1,000). */
  maxRuns?: number;
  /** Bytes of run inputs and transcript tails remembered at most (default 32 MiB). */
  maxBytes?: number;
  /** How long a run is remembered after this process last committed it (default 15 minutes). */
  maxAgeMs?: number;
  now?: () => number;
};

/**
 * What this process last committed to each running run (HLD §4.3): the run as its commit left it
 * and the transcript tail its next step sends the model. The next step of the run delivered to the
 * same process starts from it instead of reading the run and its transcript again. It is a guess,
 * never the truth: the step's first commit requires the run to be still at the cached sequence
 * (another process's commit, a cancel, a timeout moves it on), and the step starts again from what
 * is stored when it is not; a transcript tail is used only for a run whose stored transcript count
 * it was taken at. Bounded in runs, bytes and age.
 */
export class RunCache {
  readonly #entries: BoundedCache<string, Entry>;

  constructor(options: RunCacheOptions = {}) {
    this.#entries = new BoundedCache<string, Entry>({
      maxEntries: options.maxRuns ?? 1_000,
      maxWeight: options.maxBytes ?? 32 * 1024 * 1024,
      maxAgeMs: options.maxAgeMs ?? 15 * 60_000,
      weigh: (entry) =>
        JSON.stringify(entry.run.input).length +
        (entry.transcript?.messages.reduce((sum, message) => sum + messageBytes(message), 0) ?? 0),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  /** The run as this process last committed it, when that was the commit before step `step`. */
  runBefore(tenantId: string, runId: string, step: number): RunRecord | undefined {
    const run = this.#entries.get(key(tenantId, runId))?.run;
    return run !== undefined && run.status === 'running' && run.steps_completed === step - 1
      ? run
      : undefined;
  }

  /** The transcript tail within `maxBytes` of `run`, when remembered at its transcript count. */
  transcript(run: RunRecord, maxBytes: number): ChatMessage[] | undefined {
    const cached = this.#entries.get(key(run.tenant_id, run.run_id))?.transcript;
    return cached !== undefined && cached.count === run.transcript_messages && cached.maxBytes === maxBytes
      ? cached.messages
      : undefined;
  }

  /** Remembers the transcript tail read (or known empty) for `run`. */
  rememberTranscript(run: RunRecord, messages: ChatMessage[], maxBytes: number): void {
    const entryKey = key(run.tenant_id, run.run_id);
    const entry = this.#entries.get(entryKey);
    const base = entry !== undefined && entry.run.last_sequence >= run.last_sequence ? entry.run : run;
    if (isTerminal(base.status)) return;
    this.#entries.set(entryKey, {
      run: base,
      transcript: { messages, count: run.transcript_messages, maxBytes },
    });
  }

  /**
   * Follows a commit that applied: `run` is the run it left. The transcript tail follows when the
   * commit appended to the transcript the remembered tail was taken at, else it is forgotten.
   */
  committed(run: RunRecord, change: Pick<RunCommit, 'appendTranscript'>): void {
    const entryKey = key(run.tenant_id, run.run_id);
    if (isTerminal(run.status)) {
      this.#entries.delete(entryKey);
      return;
    }
    const entry = this.#entries.get(entryKey);
    // A slower commit of another delivery in this process does not take the run back.
    if (entry !== undefined && entry.run.last_sequence > run.last_sequence) return;
    const cached = entry?.transcript;
    const appended = change.appendTranscript ?? [];
    const follows = cached !== undefined && cached.count + appended.length === run.transcript_messages;
    this.#entries.set(entryKey, {
      run,
      ...(follows
        ? {
            transcript: {
              messages:
                appended.length === 0
                  ? cached.messages
                  : transcriptTail([...cached.messages, ...appended], cached.maxBytes),
              count: run.transcript_messages,
              maxBytes: cached.maxBytes,
            },
          }
        : {}),
    });
  }

  /** Forgets a run: a commit of it failed, or it is over. */
  forget(tenantId: string, runId: string): void {
    this.#entries.delete(key(tenantId, runId));
  }
}

function key(tenantId: string, runId: string): string {
  return `${tenantId}\u0000${runId}`;
}
