import { describe, expect, it } from 'vitest';
import { forwardHandlers } from '../../../functions/orchestrator/federation/forward-handlers.ts';
import type { RunRecord } from '../../../functions/orchestrator/ports/run-state-port.ts';
import type { Run } from '../../../functions/orchestrator/schemas/run.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { ConflictError, NotFoundError } from '../../../functions/shared/errors/agentos-error.ts';

/**
 * `POST /v1/federation/runs:cancel` on the peer that runs a forwarded run (HLD §7.3), with an
 * in-memory run table and a run service double: only the peer that forwarded a run, for its
 * tenant, may cancel it; everything else is a missing run; a run that ended answers its state.
 */

const peerAuth = (peerId: string, tenantId = 'acme-west'): AuthContext => ({
  tenant_id: tenantId,
  principal: { id: `peer/${peerId}/alice`, type: 'service' },
  scopes: ['federation:forward'],
  policy_context: { peer_id: peerId },
});

function record(runId: string, status: RunRecord['status'], principal: string, origin?: string): RunRecord {
  return {
    run_id: runId,
    tenant_id: 'acme-west',
    status,
    principal_id: principal,
    metadata: origin === undefined ? {} : { 'federation.origin_node_id': origin },
  } as RunRecord;
}

function setup() {
  const table = new Map<string, RunRecord>();
  const add = (run: RunRecord) => table.set(`${run.tenant_id}/${run.run_id}`, run);
  add(record('run_forwarded', 'running', 'peer/east-1/alice', 'east-1'));
  add(record('run_completed', 'completed', 'peer/east-1/bob', 'east-1'));
  add(record('run_other_peer', 'running', 'peer/north-1/alice', 'north-1'));
  // A local caller naming east-1 in its metadata does not make east-1 its origin.
  add(record('run_local', 'running', 'carol', 'east-1'));
  const canceled: string[] = [];
  const tenants: (string | undefined)[] = [];
  const handlers = forwardHandlers({
    nodeId: 'west-1',
    eventsUrl: async () => 'unused',
    runs: { getRun: async (auth, runId) => table.get(`${auth.tenant_id}/${runId}`) },
    service: {
      createRun: async () => {
        throw new Error('not used');
      },
      cancelRun: async (auth, runId, tenant) => {
        tenants.push(tenant?.tenant_id);
        const run = table.get(`${auth.tenant_id}/${runId}`)!;
        if (run.status === 'completed' || run.status === 'failed')
          throw new ConflictError(`The run is already ${run.status} and cannot be canceled`);
        canceled.push(runId);
        add({ ...run, status: 'canceled' });
        return { run_id: runId, status: 'canceled' } as Run;
      },
    },
  });
  const cancel = (auth: AuthContext, runId: string) =>
    handlers.cancelForwardedRun({
      auth,
      tenant: { tenant_id: auth.tenant_id },
      body: { run_id: runId },
    } as Parameters<typeof handlers.cancelForwardedRun>[0]);
  return { cancel, canceled, tenants };
}

describe('POST /v1/federation/runs:cancel', () => {
  it('returns the run canceled for the peer that forwarded it', async () => {
    const { cancel, canceled, tenants } = setup();
    const answer = await cancel(peerAuth('east-1'), 'run_forwarded');
    // With its tenant, so the run's slots go to the tenant's waiting runs at once.
    expect(tenants).toEqual([peerAuth('east-1').tenant_id]);
    expect(answer).toMatchObject({
      status: 200,
      json: {
        object: 'federation.canceled_run',
        node_id: 'west-1',
        run_id: 'run_forwarded',
        status: 'canceled',
      },
    });
    expect(canceled).toEqual(['run_forwarded']);
  });

  it('returns the same answer when the run is canceled again', async () => {
    const { cancel } = setup();
    await cancel(peerAuth('east-1'), 'run_forwarded');
    const again = await cancel(peerAuth('east-1'), 'run_forwarded');
    expect(again).toMatchObject({ status: 200, json: { status: 'canceled' } });
  });

  it('returns the final state of a run that ended before the cancel', async () => {
    const { cancel, canceled } = setup();
    const answer = await cancel(peerAuth('east-1'), 'run_completed');
    expect(answer).toMatchObject({ status: 200, json: { run_id: 'run_completed', status: 'completed' } });
    expect(canceled).toEqual([]);
  });

  it('throws not_found alike for a missing run, another peer’s run, a local run and another tenant', async () => {
    const { cancel, canceled } = setup();
    for (const [auth, runId] of [
      [peerAuth('east-1'), 'run_missing'],
      [peerAuth('east-1'), 'run_other_peer'],
      [peerAuth('east-1'), 'run_local'],
      [peerAuth('north-1'), 'run_forwarded'],
      [peerAuth('east-1', 'globex-west'), 'run_forwarded'],
    ] as const)
      await expect(cancel(auth, runId)).rejects.toThrow(NotFoundError);
    expect(canceled).toEqual([]);
  });
});
