import { describe, expect, it } from 'vitest';
import {
  createFailureReporter,
  handledFailuresMetric,
} from '../../../functions/shared/observability/failure-reporter.ts';

describe('createFailureReporter', () => {
  it('logs the failure with the error’s name, code and message, and counts it', () => {
    const warnings: [string, Record<string, unknown>][] = [];
    const counts: [string, number][] = [];
    const report = createFailureReporter(
      { warn: (message, attributes) => warnings.push([message, attributes]) },
      (metric, value) => counts.push([metric, value]),
    );
    const error = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    report('event publish failed', error, { run_id: 'run_1' });
    expect(warnings).toEqual([
      [
        'event publish failed',
        { run_id: 'run_1', error: { name: 'Error', code: 'ECONNRESET', message: 'socket hang up' } },
      ],
    ]);
    expect(counts).toEqual([[handledFailuresMetric, 1]]);
  });

  it('reports a thrown value that is not an Error', () => {
    const warnings: Record<string, unknown>[] = [];
    const report = createFailureReporter(
      { warn: (_m, attributes) => warnings.push(attributes) },
      () => undefined,
    );
    report('cleanup failed', 'plain string');
    expect(warnings).toEqual([{ error: { name: 'string', message: 'plain string' } }]);
  });
});
