import { emitJson } from '../commands/cli-output.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** How a phase or check ended. */
export type Outcome = 'ok' | 'failed' | 'skipped';

/** One phase of a command (HLD §8.1: preflight, boot, seed, wire, validate, report). */
export type PhaseRecord = { name: string; outcome: Outcome; duration_ms: number; detail: string };

/** A health check or smoke test result. */
export type CheckRecord = { name: string; outcome: Outcome; duration_ms: number; detail: string };

/** What every command reports (HLD §8.3). Never holds secrets: no tokens, no keys. */
export type OperatorReport = {
  action: string;
  node_id: string;
  mode: 'local' | 'aws';
  started_at: string;
  finished_at: string;
  outcome: 'green' | 'red';
  phases: PhaseRecord[];
  endpoints: Record<string, string>;
  seeded: Record<string, string>;
  health: CheckRecord[];
  smoke: CheckRecord[];
  alert_test: CheckRecord;
  notes: string[];
};

/** An empty, red report of `action` for a local node; commands fill it in as they go. */
export function newOperatorReport(action: string, nodeId: string, alertTest: string): OperatorReport {
  return {
    action,
    node_id: nodeId,
    mode: 'local',
    started_at: new Date().toISOString(),
    finished_at: '',
    outcome: 'red',
    phases: [],
    endpoints: {},
    seeded: {},
    health: [],
    smoke: [],
    alert_test: { name: 'alert e-mail', outcome: 'skipped', duration_ms: 0, detail: alertTest },
    notes: [],
  };
}

function table(rows: CheckRecord[] | PhaseRecord[]): string {
  if (rows.length === 0) return '_none_\n';
  const lines = rows.map((row) => `| ${row.name} | ${row.outcome} | ${row.duration_ms} | ${row.detail.replace(/\|/g, '\\|')} |`);
  return ['| name | outcome | ms | detail |', '| --- | --- | ---: | --- |', ...lines].join('\n') + '\n';
}

/** Renders a report as Markdown for people. */
export function renderMarkdown(report: OperatorReport): string {
  const keyValues = (record: Record<string, string>) =>
    Object.keys(record).length === 0 ? '_none_\n' : Object.entries(record).map(([k, v]) => `- **${k}**: \`${v}\``).join('\n') + '\n';
  return [
    `# agentos ${report.action} (${report.mode}) — ${report.outcome.toUpperCase()}`,
    '',
    `Node \`${report.node_id}\`, ${report.started_at} → ${report.finished_at}`,
    '',
    '## Phases',
    table(report.phases),
    '## Endpoints',
    keyValues(report.endpoints),
    '## Seeded',
    keyValues(report.seeded),
    '## Health checks',
    table(report.health),
    '## Smoke tests',
    table(report.smoke),
    '## Alert delivery test',
    table([report.alert_test]),
    ...(report.notes.length > 0 ? ['## Notes', report.notes.map((n) => `- ${n}`).join('\n'), ''] : []),
  ].join('\n');
}

/** Where a report is written: `reports/<action>-<timestamp>.md` and `.json`. */
export function reportPaths(dir: string, report: Pick<OperatorReport, 'action' | 'started_at'>): { markdown: string; json: string } {
  const base = join(dir, `${report.action}-${report.started_at.replace(/[:.]/g, '-')}`);
  return { markdown: `${base}.md`, json: `${base}.json` };
}

/** Writes the report's Markdown and JSON files; returns both paths. */
export async function writeOperatorReport(dir: string, report: OperatorReport): Promise<{ markdown: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const paths = reportPaths(dir, report);
  await writeFile(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(paths.markdown, renderMarkdown(report));
  // Under --json the report is the command's result (its Markdown twin stays a file).
  emitJson({ ...report, report_files: paths });
  return paths;
}

/**
 * Ends a command's report: stamps its end, records the report phase with where it goes, and writes
 * it into `dir`. Returns the written paths.
 */
export async function finishOperatorReport(
  dir: string,
  report: OperatorReport,
): Promise<{ markdown: string; json: string }> {
  report.finished_at = new Date().toISOString();
  report.phases.push({ name: 'report', outcome: 'ok', duration_ms: 0, detail: reportPaths(dir, report).markdown });
  return writeOperatorReport(dir, report);
}
