import {
  maxCommitBytes,
  maxRunRecordBytes,
  maxStepTranscriptBytes,
  messageBytes,
  runRecordBytes,
  RunTooLargeError,
} from '../ports/run-state-port.ts';
import type { RunCommit, RunRecord } from '../ports/run-state-port.ts';
import type { NewEvent } from '../schemas/event.ts';

/**
 * The size rules every RunStatePort adapter applies, in one place so that a run is refused at the
 * same size, with the same reported numbers, in memory and on DynamoDB.
 */

/** Throws when a run's own fields outgrow {@link maxRunRecordBytes}. */
export function assertRecordFits(record: RunRecord): void {
  const bytes = runRecordBytes(record);
  if (bytes > maxRunRecordBytes) throw new RunTooLargeError(bytes, maxRunRecordBytes, 'run record limit');
}

/**
 * What the commit measure counts for each item a commit writes besides its content (keys, attribute
 * names, an event's envelope, an event id's guard item): generous, so that the measure stays above
 * what DynamoDB counts against its transaction size (HLD §4.2).
 */
const commitItemOverheadBytes = 1024;

/** Transcript bytes per item the measure allows for (a transcript is stored in pieces of at most this). */
const transcriptPieceAllowanceBytes = 256 * 1024;

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/**
 * Checks what a commit adds, given the run as it stands and the events the commit will store;
 * returns the bytes the transcript grows by.
 *
 * @throws RunTooLargeError past the caller's `maxTranscriptBytes`, the per-step transcript limit, the
 *   size of one event or step record, or, for the whole commit, {@link maxCommitBytes} (one commit is
 *   one transaction): the appended transcript, the step record, the new events, the run's own fields
 *   with the commit's changes, and an allowance per item written.
 */
export function checkCommitSize(change: RunCommit, current: RunRecord, fresh: readonly NewEvent[]): number {
  const messages = change.appendTranscript ?? [];
  const added = messages.reduce((sum, message) => sum + messageBytes(message), 0);
  if (added > maxStepTranscriptBytes) {
    throw new RunTooLargeError(added, maxStepTranscriptBytes, 'per-step transcript limit');
  }
  const transcriptBytes = current.transcript_bytes;
  if (change.maxTranscriptBytes !== undefined && transcriptBytes + added > change.maxTranscriptBytes) {
    throw new RunTooLargeError(transcriptBytes + added, change.maxTranscriptBytes);
  }
  let eventBytes = 0;
  for (const event of fresh) {
    const bytes = jsonBytes(event.data);
    if (bytes > maxRunRecordBytes) throw new RunTooLargeError(bytes, maxRunRecordBytes, 'event size limit');
    // The event item holds the whole event; its guard item holds the id again.
    eventBytes += jsonBytes(event) + Buffer.byteLength(event.event_id, 'utf8');
  }
  let stepBytes = 0;
  if (change.step !== undefined) {
    stepBytes = jsonBytes(change.step);
    if (stepBytes > maxRunRecordBytes) {
      throw new RunTooLargeError(stepBytes, maxRunRecordBytes, 'step record limit');
    }
  }
  // The run item (as it stands plus what the commit sets), the step item and the two run-index
  // entries; each event's item and guard; each message's piece, and one more per piece of text.
  const items = 4 + 2 * fresh.length + messages.length + Math.ceil(added / transcriptPieceAllowanceBytes);
  const total =
    added +
    messages.length +
    stepBytes +
    eventBytes +
    runRecordBytes(current) +
    jsonBytes(change.changes ?? {}) +
    items * commitItemOverheadBytes;
  if (total > maxCommitBytes) throw new RunTooLargeError(total, maxCommitBytes, 'commit size limit');
  return added;
}
