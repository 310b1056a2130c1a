import { InMemoryLedger } from '../../../functions/model-policy/adapters/in-memory/in-memory-ledger.ts';
import { ledgerPortConformance } from '../../conformance/ledger-port.case.ts';

ledgerPortConformance('in memory', async () => new InMemoryLedger());
