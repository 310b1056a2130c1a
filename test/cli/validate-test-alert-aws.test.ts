import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = new URL('../../cli/bin/agentos.ts', import.meta.url).pathname;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agentos-validate-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('agentos validate --test-alert against a deployed node', () => {
  it('returns a red report whose alert test failed, never a pass, when the stack cannot be read', async () => {
    const env = { ...process.env, AGENTOS_REPORTS_DIR: dir, AGENTOS_STATE_DIR: join(dir, 'state') };
    // Nothing listens on port 9: the stack cannot be read, and the alert test is reported as not sent.
    const exit = await run(
      process.execPath,
      [cli, 'validate', '--endpoint', 'http://127.0.0.1:9', '--stage', 'x', '--test-alert'],
      { env, timeout: 60_000 },
    ).then(
      () => 0,
      (error: unknown) => (error as { code?: number }).code ?? 1,
    );
    expect(exit).not.toBe(0);
    const [file] = (await readdir(dir)).filter(
      (name) => name.startsWith('validate-') && name.endsWith('.json'),
    );
    const report = JSON.parse(await readFile(join(dir, file ?? 'missing'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(report['outcome']).toBe('red');
    expect(report['alert_test']).toEqual({
      name: 'alert e-mail',
      outcome: 'failed',
      duration_ms: 0,
      detail: expect.stringContaining('no test alert was sent') as unknown,
    });
    expect(report['phases']).toContainEqual(
      expect.objectContaining({ name: 'alert test', outcome: 'skipped' }),
    );
  });
});
