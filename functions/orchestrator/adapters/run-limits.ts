import {
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
 * Checks what a commit adds, given the transcript's current size and the events it will store;
 * returns the bytes the transcript grows by.
 *
 * @throws RunTooLargeError past the caller's `maxTranscriptBytes`, the per-step transcript limit,
 *   or the size of one event or step record.
 */
export function checkCommitSize(
  change: RunCommit,
  transcriptBytes: number,
  fresh: readonly NewEvent[],
): number {
  const added = (change.appendTranscript ?? []).reduce((sum, message) => sum + messageBytes(message), 0);
  if (added > maxStepTranscriptBytes) {
    throw new RunTooLargeError(added, maxStepTranscriptBytes, 'per-step transcript limit');
  }
  if (change.maxTranscriptBytes !== undefined && transcriptBytes + added > change.maxTranscriptBytes) {
    throw new RunTooLargeError(transcriptBytes + added, change.maxTranscriptBytes);
  }
  for (const event of fresh) {
    const bytes = Buffer.byteLength(JSON.stringify(event.data), 'utf8');
    if (bytes > maxRunRecordBytes) throw new RunTooLargeError(bytes, maxRunRecordBytes, 'event size limit');
  }
  if (change.step !== undefined) {
    const bytes = Buffer.byteLength(JSON.stringify(change.step), 'utf8');
    if (bytes > maxRunRecordBytes) throw new RunTooLargeError(bytes, maxRunRecordBytes, 'step record limit');
  }
  return added;
}
