import { z } from 'zod';
import { RunIdSchema } from '../../schemas/run.ts';
import { RunEventSchema } from '../../schemas/event.ts';
import { NodeIdSchema } from './peer-identity.ts';

/**
 * `POST /v1/federation/events:ingest` (HLD §7.4): a peer replicates the events of runs it executes
 * for this node. Delivery is at least once: the receiver drops events whose `event_id` it already
 * holds and orders each run's events by `sequence`; it reports, per run, the highest sequence it
 * holds without a gap, so the sender knows what to resend.
 */
/** The most events one `events:ingest` call carries. */
export const maxIngestBatch = 500;

export const IngestEventsRequestSchema = z
  .strictObject({
    source_node_id: NodeIdSchema,
    events: z.array(RunEventSchema).min(1).max(maxIngestBatch),
  })
  .meta({ id: 'IngestEventsRequest' });

export type IngestEventsRequest = z.infer<typeof IngestEventsRequestSchema>;

export const IngestEventsResultSchema = z
  .strictObject({
    object: z.literal('federation.events_ingested'),
    accepted: z.number().int().nonnegative().describe('Events stored by this call.'),
    duplicates: z.number().int().nonnegative().describe('Events already held (same event_id), dropped.'),
    runs: z.array(
      z.strictObject({
        run_id: RunIdSchema,
        contiguous_sequence: z
          .number()
          .int()
          .nonnegative()
          .describe('Every event up to this sequence is held; resend from the next one.'),
      }),
    ),
  })
  .meta({ id: 'IngestEventsResult' });

export type IngestEventsResult = z.infer<typeof IngestEventsResultSchema>;
