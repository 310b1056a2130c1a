import { humanOutput } from '../commands/cli-output.ts';
import type { PhaseRecord } from './operator-report.ts';

/** Prints each phase as it starts and ends, and records it for the report. */
export class PhaseRunner {
  readonly phases: PhaseRecord[] = [];
  private readonly out: NodeJS.WritableStream;

  constructor(out: NodeJS.WritableStream = humanOutput()) {
    this.out = out;
  }

  /** Runs a phase; a failure is recorded and rethrown so the command can stop and still report. */
  async run<T>(name: string, work: (note: (detail: string) => void) => Promise<T>): Promise<T> {
    const started = Date.now();
    let detail = '';
    this.out.write(`▶ ${name} …\n`);
    try {
      const result = await work((text) => {
        detail = text;
        this.out.write(`  · ${text}\n`);
      });
      const duration = Date.now() - started;
      this.phases.push({ name, outcome: 'ok', duration_ms: duration, detail });
      this.out.write(`✔ ${name} (${duration} ms)\n`);
      return result;
    } catch (error) {
      const duration = Date.now() - started;
      const message = error instanceof Error ? error.message : String(error);
      this.phases.push({ name, outcome: 'failed', duration_ms: duration, detail: message });
      this.out.write(`✘ ${name} (${duration} ms): ${message}\n`);
      throw error;
    }
  }

  skip(name: string, reason: string): void {
    this.phases.push({ name, outcome: 'skipped', duration_ms: 0, detail: reason });
    this.out.write(`– ${name} skipped: ${reason}\n`);
  }
}
