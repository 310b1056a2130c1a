import type { RunStatePort } from '../ports/run-state-port.ts';
import type { RunEvent } from '../schemas/event.ts';

/**
 * The run store as readers see it on a node that names itself (HLD §7.4): every event carries the
 * node that produced it, `node_id`. A replicated event is stored with its peer's id; an event this
 * node produced is stored without one and read with this node's, so nothing already stored changes.
 * `nodeId` is read on first use and may be undefined (a node that has no id), then events stay as
 * stored.
 */
export function withEventNodeIds(runs: RunStatePort, nodeId: () => string | undefined): RunStatePort {
  let known: { id: string | undefined } | undefined;
  const stamp = <T extends RunEvent>(events: T[]): T[] => {
    known ??= { id: nodeId() };
    const id = known.id;
    if (id === undefined) return events;
    return events.map((event) => (event.node_id === undefined ? { ...event, node_id: id } : event));
  };
  return {
    createRun: async (auth, run, events, idempotency, rate) => {
      const result = await runs.createRun(auth, run, events, idempotency, rate);
      return result.outcome === 'created' ? { ...result, events: stamp(result.events) } : result;
    },
    findIdempotentRun: (auth, claim, at) => runs.findIdempotentRun(auth, claim, at),
    getRun: (auth, runId) => runs.getRun(auth, runId),
    commit: async (auth, runId, commit) => {
      const result = await runs.commit(auth, runId, commit);
      return { ...result, events: stamp(result.events) };
    },
    listEvents: async (auth, runId, page) => stamp(await runs.listEvents(auth, runId, page)),
    getEvents: async (auth, runId, eventIds) => stamp(await runs.getEvents(auth, runId, eventIds)),
    readTranscript: (auth, runId, options) => runs.readTranscript(auth, runId, options),
    listSteps: (auth, runId, page) => runs.listSteps(auth, runId, page),
    listRuns: (auth, query) => runs.listRuns(auth, query),
  };
}
