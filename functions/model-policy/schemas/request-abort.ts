import { z } from 'zod';
import { RequestIdSchema } from '../../shared/contracts/model-invocation.ts';

/** What `POST /v1/models/requests/{request_id}:abort` answers when a live call was asked to stop (HLD §5.3). */
export const ModelRequestAbortSchema = z
  .strictObject({
    object: z.literal('model.request.abort'),
    request_id: RequestIdSchema,
    abort_requested: z
      .literal(true)
      .describe(
        'The call was asked to stop: within seconds its backend call is aborted, it is charged what was ' +
          'produced and the rest of its reservation is released.',
      ),
  })
  .meta({ id: 'ModelRequestAbort' });

export type ModelRequestAbort = z.infer<typeof ModelRequestAbortSchema>;
