import { composeSettlementWorker } from '../composition/settlement-worker-root.ts';

/** Lambda entry: the settlement worker, on the settlement queue (HLD §5.3). */
export const handler = composeSettlementWorker().handler;
