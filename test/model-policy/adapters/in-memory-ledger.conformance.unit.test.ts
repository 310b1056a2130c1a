import { InMemoryLedger } from '../../../functions/model-policy/adapters/in-memory/in-memory-ledger.ts';
import { InMemoryRateLimiter } from '../../../functions/shared/limits/adapters/in-memory-limits.ts';
import { ledgerPortConformance } from '../../conformance/ledger-port.case.ts';

// Each case has a ledger of its own, so the ledger's count of records is that of the request asked about.
ledgerPortConformance(
  'in memory',
  async () => new InMemoryLedger(),
  async (ledger) => (ledger as InMemoryLedger).records,
  async () => {
    const limiter = new InMemoryRateLimiter();
    return { ledger: new InMemoryLedger({ rateLimiter: limiter }), limiter };
  },
);
