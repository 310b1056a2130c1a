/**
 * Lambda bundle benchmark (a script, not a test): the minified size of each bundle (what its init
 * loads, against its budget in infra/build/bundle-budgets.ts, and the whole asset with the chunks
 * loaded on first use) and its cold module-load time, i.e. a fresh `node` importing it, as Lambda's
 * init phase does, net of an empty `node` start measured the same way.
 *
 *   node test/bench/bundle-bench.ts [--runs 15]
 */
import { parseArgs } from 'node:util';
import { bundleBudgets } from '../../infra/build/bundle-budgets.ts';
import { bundleFunctions } from '../../infra/build/bundle-functions.ts';
import {
  emptyProgram,
  probeBundleLoad,
  runNodeProgram,
  sampleFunctionEnvironment,
} from '../../infra/build/bundle-load-probe.ts';

/** Nearest-rank percentile of an unsorted sample. */
function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs must be a positive integer, got "${values.runs}"`);

const bundles = await bundleFunctions();
const environment = await sampleFunctionEnvironment();

// One unmeasured round warms the file cache, so the first measured sample is not an outlier.
await runNodeProgram(emptyProgram, environment);
for (const bundle of bundles) await probeBundleLoad(bundle.outFile, environment);

const empty: number[] = [];
const loads = new Map<string, number[]>(bundles.map((bundle) => [bundle.name, []]));
// Interleaved, so a burst of load on the shared machine hits every series alike.
for (let run = 0; run < runs; run += 1) {
  empty.push((await runNodeProgram(emptyProgram, environment)).processMs);
  for (const bundle of bundles) {
    const outcome = await probeBundleLoad(bundle.outFile, environment);
    if (!outcome.loaded) throw new Error(`${bundle.name} did not load: ${outcome.error ?? 'unknown error'}`);
    loads.get(bundle.name)?.push(outcome.processMs);
  }
}

// The empty start's median is the baseline: its own p95 measures the machine's noise, not node.
const baseline = percentile(empty, 50);
console.log(`Lambda bundles: ${runs} fresh node processes each; node ${process.version}`);
console.log(
  `empty node start: p50 ${ms(baseline)}, p95 ${ms(percentile(empty, 95))}; load times below are net of the p50\n`,
);
const header = ['function', 'init bytes', 'init KiB', 'budget KiB', 'asset KiB', 'load p50', 'load p95'];
const rows = bundles.map((bundle) => {
  const samples = loads.get(bundle.name) ?? [];
  return [
    bundle.name,
    String(bundle.bytes),
    (bundle.bytes / 1024).toFixed(1),
    String(bundleBudgets[bundle.name].initKiB),
    (bundle.assetBytes / 1024).toFixed(1),
    ms(percentile(samples, 50) - baseline),
    ms(percentile(samples, 95) - baseline),
  ];
});
const widths = header.map((title, column) =>
  Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
);
for (const row of [header, ...rows]) {
  console.log(
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  '),
  );
}
