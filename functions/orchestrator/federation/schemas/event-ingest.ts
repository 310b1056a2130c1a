import { z } from 'zod';
import { RunIdSchema } from '../../schemas/run.ts';
import { RunEventSchema } from '../../schemas/event.ts';
import { NodeIdSchema } from './peer-identity.ts';

/**
 * `POST /v1/federation/events:ingest` (HLD §7.4): a peer replicates the events of runs it executes
 * for this node. Each event names the run on this node the forward served (`origin.run_id` of the
 * forward) and keeps the peer's `event_id` and `sequence`. Delivery is at least once: the receiver
 * drops events it already holds and stores each run's events in `sequence` order, without a gap;
 * an event past a gap is not stored, and the answer says, per run, the highest sequence held without
 * a gap and the next one to send.
 */
/** The most events one `events:ingest` call carries. */
export const maxIngestBatch = 500;

/** The most runs one `events:ingest` call names: each is read and committed on its own. */
export const maxIngestRuns = 20;

/** The longest `event_id` an ingest stores: the peer's run id, `:` and the peer's own suffix. */
export const maxIngestEventIdLength = 256;

export const IngestEventsRequestSchema = z
  .strictObject({
    source_node_id: NodeIdSchema,
    events: z
      .array(RunEventSchema)
      .min(1)
      .max(maxIngestBatch)
      .superRefine((events, context) => {
        events.forEach((event, index) => {
          if (String(event.event_id).length > maxIngestEventIdLength)
            context.addIssue({
              code: 'custom',
              path: [index, 'event_id'],
              message: `at most ${maxIngestEventIdLength} characters`,
            });
        });
        if (new Set(events.map((event) => event.run_id)).size > maxIngestRuns)
          context.addIssue({ code: 'custom', message: `events of at most ${maxIngestRuns} runs per call` });
      })
      .describe(
        `Events of at most ${maxIngestRuns} runs; each \`event_id\` (at most ${maxIngestEventIdLength} characters) starts with the peer's run id and \`:\`. The receiver sets \`node_id\` to the calling peer.`,
      ),
  })
  .meta({ id: 'IngestEventsRequest' });

export type IngestEventsRequest = z.infer<typeof IngestEventsRequestSchema>;

export const IngestEventsResultSchema = z
  .strictObject({
    object: z.literal('federation.events_ingested'),
    accepted: z.number().int().nonnegative().describe('Events stored by this call.'),
    duplicates: z
      .number()
      .int()
      .nonnegative()
      .describe('Events already held (same event_id), or sent after the run ended on this node: dropped.'),
    deferred: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        'Events past a gap in their run’s sequence, not stored: send them again from `next_sequence`.',
      ),
    runs: z.array(
      z.strictObject({
        run_id: RunIdSchema,
        contiguous_sequence: z
          .number()
          .int()
          .nonnegative()
          .describe('Every event up to this sequence is held; resend from the next one.'),
        next_sequence: z
          .number()
          .int()
          .positive()
          .optional()
          .describe('The sequence this node expects next for the run: `contiguous_sequence` + 1.'),
      }),
    ),
  })
  .meta({ id: 'IngestEventsResult' });

export type IngestEventsResult = z.infer<typeof IngestEventsResultSchema>;
