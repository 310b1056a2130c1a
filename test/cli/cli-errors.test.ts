import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = new URL('../../cli/bin/agentos.ts', import.meta.url).pathname;

let stateDir: string;
let deadUrl: string;

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'agentos-state-'));
  deadUrl = `http://127.0.0.1:${await closedPort()}`;
  mkdirSync(join(stateDir, 'down'));
  writeFileSync(
    join(stateDir, 'down', 'state.json'),
    JSON.stringify({
      node_id: 'down',
      started_at: '2026-01-01T00:00:00Z',
      emulator: { endpoint: deadUrl, pid: null, managed: false, log_file: null },
      node: { pid: null, orchestrator_url: deadUrl, model_policy_url: deadUrl, log_file: 'node.log' },
      resources: { table: 't', step_queue_url: 'q', state_machine_arn: 'a' },
      seeded: {},
    }),
  );
});

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

async function agentos(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, [cli, ...args], {
      env: { ...process.env, AGENTOS_STATE_DIR: stateDir },
    });
    return { code: 0, stderr };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

describe('agentos errors', () => {
  it('prints one line and exits 3 when the node is down, with no stack trace', async () => {
    const result = await agentos('model-policy', 'get', '--local', '--node-id', 'down');
    expect(result.code).toBe(3);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^agentos: cannot reach the node at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/),
    ]);
  });

  it('prints one line and exits 2 for a wrong argument', async () => {
    const result = await agentos('model-policy', 'frob', '--local', '--node-id', 'down');
    expect(result).toEqual({ code: 2, stderr: 'agentos: model-policy takes get or set\n' });
  });
});

describe('agentos help', () => {
  async function help(...args: string[]): Promise<string> {
    const { stdout } = await run(process.execPath, [cli, ...args, '--help'], {
      env: { ...process.env, AGENTOS_STATE_DIR: stateDir },
    });
    return stdout.replace(/\s+/g, ' ');
  }

  it('returns an operator meaning of --tenant for runs list and runs stop, and a token tenant elsewhere', async () => {
    for (const command of [
      ['runs', 'list'],
      ['runs', 'stop'],
    ]) {
      const text = await help(...command);
      expect(text).toContain('--tenant <id> as an operator: the tenant whose runs this acts on');
      expect(text).not.toContain('mint the token for this tenant');
    }
    expect(await help('runs', 'get')).toContain('--tenant <id> mint the token for this tenant');
  });
});
