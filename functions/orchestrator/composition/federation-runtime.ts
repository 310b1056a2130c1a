/**
 * The forwarding and pushing side of federation (HLD §7.3, §7.4) that the composition core builds on
 * first use: in a module of its own, so that it is imported then (orchestrator-core.ts), not at init.
 */
export { createEventPusher } from '../federation/event-pusher.ts';
export { createFederatedRuns } from '../federation/federated-runs.ts';
export { createPeerTokenIssuer } from '../federation/peer-tokens.ts';
export { createRunForwarder } from '../federation/run-forwarder.ts';
