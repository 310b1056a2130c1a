import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ChangeMessageVisibilityBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';

const JournalSchema = z.object({ receipt_handles: z.array(z.string()).max(10_000) });

/**
 * The receipt handles of the step messages a local node has received and not yet settled, kept in a
 * file. A killed node leaves its in-flight messages invisible for the queue's whole visibility
 * timeout (900 s); the next start reads the file and makes them visible at once, so the runs resume
 * promptly (HLD §8.1). Writes are synchronous and atomic (temporary file, then rename): the file
 * must be right at the moment of the crash.
 */
export class InFlightJournal {
  readonly #path: string;
  readonly #handles = new Set<string>();

  constructor(path: string) {
    this.#path = path;
  }

  /** The handles a previous process left behind (none when there is no journal). */
  leftOver(): string[] {
    if (!existsSync(this.#path)) return [];
    return JournalSchema.parse(JSON.parse(readFileSync(this.#path, 'utf8'))).receipt_handles;
  }

  add(handles: readonly string[]): void {
    for (const handle of handles) this.#handles.add(handle);
    this.#write();
  }

  remove(handles: readonly string[]): void {
    for (const handle of handles) this.#handles.delete(handle);
    this.#write();
  }

  #write(): void {
    writeFileSync(`${this.#path}.tmp`, JSON.stringify({ receipt_handles: [...this.#handles] }));
    renameSync(`${this.#path}.tmp`, this.#path);
  }
}

/**
 * Makes the messages behind `handles` visible again now. A handle whose message was deleted or
 * received again meanwhile is refused by SQS; those are counted, not retried.
 */
export async function releaseMessages(
  sqs: SQSClient,
  queueUrl: string,
  handles: readonly string[],
): Promise<{ released: number; stale: number }> {
  let released = 0;
  let stale = 0;
  for (let start = 0; start < handles.length; start += 10) {
    const batch = handles.slice(start, start + 10);
    const result = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((handle, index) => ({
          Id: String(index),
          ReceiptHandle: handle,
          VisibilityTimeout: 0,
        })),
      }),
    );
    released += result.Successful?.length ?? 0;
    stale += result.Failed?.length ?? 0;
  }
  return { released, stale };
}
