import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { RunRecord } from '../ports/run-state-port.ts';
import type { CreateRunRequest } from '../schemas/run.ts';

/** What differs between a run created here and one a peer runs for this node (HLD §4.2, §7.4). */
export type QueuedRunFields = Pick<RunRecord, 'run_id' | 'agent_version' | 'mode' | 'scheduled_at'>;

/**
 * The record of a run just created for `auth` from `body`, queued and with nothing done yet, stamped
 * `at`. It keeps a copy of the caller's Auth Context: the steps run on the caller's behalf later.
 */
export function queuedRunRecord(
  auth: AuthContext,
  body: CreateRunRequest,
  at: string,
  fields: QueuedRunFields,
): RunRecord {
  return {
    run_id: fields.run_id,
    tenant_id: auth.tenant_id,
    agent_id: body.agent_id,
    agent_version: fields.agent_version,
    mode: fields.mode,
    execution_arn: null,
    principal_id: auth.principal.id,
    auth: {
      tenant_id: auth.tenant_id,
      principal: { id: auth.principal.id, type: auth.principal.type },
      scopes: [...auth.scopes],
      policy_context: auth.policy_context,
    },
    status: 'queued',
    input: body.input,
    output: null,
    error: null,
    metadata: body.metadata ?? {},
    transcript_messages: 0,
    transcript_bytes: 0,
    steps_completed: 0,
    last_sequence: 0,
    usage: { prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 },
    created_at: at,
    updated_at: at,
    started_at: null,
    ended_at: null,
    scheduled_at: fields.scheduled_at,
    status_reason: null,
  };
}
