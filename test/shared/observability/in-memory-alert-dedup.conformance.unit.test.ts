import { InMemoryAlertDedup } from '../../../functions/shared/observability/alert-dedup-port.ts';
import { alertDedupPortConformance } from '../../conformance/alert-dedup-port.case.ts';

alertDedupPortConformance('in-memory', () => Promise.resolve(new InMemoryAlertDedup()));
