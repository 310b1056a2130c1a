import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The habits a person expects of a command-line tool, checked by running `agentos` as a process. */

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const cli = join(root, 'cli/bin/agentos.ts');

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'agentos-habits-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Result = { code: number; stdout: string; stderr: string };

async function agentos(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const options = {
    env: {
      ...process.env,
      AGENTOS_STATE_DIR: join(dir, 'state'),
      AGENTOS_REPORTS_DIR: join(dir, 'reports'),
      ...env,
    },
  };
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], options);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as Result;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** What bash completes after `words` (the last one is the word being typed). */
async function complete(script: string, words: string[]): Promise<string[]> {
  const file = join(dir, 'completion.bash');
  writeFileSync(file, script);
  const quoted = words.map((word) => `'${word}'`).join(' ');
  const { stdout } = await run('bash', [
    '-c',
    `source '${file}'; COMP_WORDS=(agentos ${quoted}); COMP_CWORD=${words.length}; _agentos; printf '%s\\n' "\${COMPREPLY[@]}"`,
  ]);
  return stdout.split('\n').filter((line) => line !== '');
}

describe('agentos --version', () => {
  it('returns the package version on standard output', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(await agentos(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('agentos --json', () => {
  it('returns the status report as one JSON document on standard output, the human lines on standard error', async () => {
    const result = await agentos(['status', '--local', '--node-id', 'absent', '--json']);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(report).toMatchObject({ action: 'status', node_id: 'absent', outcome: 'red' });
    expect(report['report_files']).toMatchObject({ json: expect.stringMatching(/status-.*\.json$/) });
    expect(result.stderr).toContain('AgentOS local node "absent": not started');
  });

  it('is offered by every command but completion', async () => {
    const script = (await agentos(['completion', 'bash'])).stdout;
    for (const command of await complete(script, [''])) {
      if (command.startsWith('-') || command === 'completion') continue;
      const subcommands = (await complete(script, [command, ''])).filter((word) => !word.startsWith('-'));
      for (const path of subcommands.length === 0 ? [[command]] : subcommands.map((sub) => [command, sub])) {
        expect({ path, flags: await complete(script, [...path, '--j']) }).toEqual({
          path,
          flags: ['--json'],
        });
      }
    }
  });
});

describe('agentos help', () => {
  it('returns usage for every command, including targets a command does not serve yet', async () => {
    const script = (await agentos(['completion', 'bash'])).stdout;
    const commands = (await complete(script, [''])).filter((word) => !word.startsWith('-'));
    expect(commands).toEqual(expect.arrayContaining(['up', 'redeploy', 'validate', 'agents', 'completion']));
    for (const command of commands) {
      const result = await agentos(['help', command]);
      expect({ command, code: result.code }).toEqual({ command, code: 0 });
      expect(result.stdout).toContain(`Usage: agentos ${command}`);
    }
    const local = await agentos(['redeploy', '--local', '--help']);
    expect(local.code).toBe(0);
    expect(local.stdout).toContain('Usage: agentos redeploy');
    // One CLI process per command, each loading the CLI from source: about 50 s on a 2-core machine
    // at rest, so the default minute is too close under a loaded one.
  }, 240_000);
});

describe('agentos errors', () => {
  it('prints one line and exits 1 for a file that does not exist', async () => {
    const result = await agentos(['up', '--local', '--config', join(dir, 'missing.json')]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^agentos: cannot read .*missing\.json/),
    ]);
  });

  it('prints one line and exits 2 for an unknown action', async () => {
    expect(await agentos(['keys', 'frob', '--local'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'agentos: keys takes rotate or retire\n',
    });
  });
});

describe('NO_COLOR', () => {
  it('returns help and errors without colour escapes', async () => {
    for (const args of [
      ['--help'],
      ['agents', 'list', '--help'],
      ['frobnicate'],
      ['keys', 'frob', '--local'],
    ]) {
      const result = await agentos(args, { NO_COLOR: '1', FORCE_COLOR: '1' });
      expect(`${result.stdout}${result.stderr}`).not.toContain('\u001b[');
    }
  });
});

describe('agentos completion', () => {
  it('returns a bash script that completes commands, subcommands and flags', async () => {
    const script = (await agentos(['completion', 'bash'])).stdout;
    expect(await complete(script, ['ag'])).toEqual(['agents']);
    expect(await complete(script, ['agents', ''])).toEqual(expect.arrayContaining(['list', 'get', 'create']));
    expect(await complete(script, ['agents', 'list', '--tenant', 'acme', '--li'])).toEqual(['--limit']);
  });

  it('returns a zsh script built on the bash one', async () => {
    const { code, stdout } = await agentos(['completion', 'zsh']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('#compdef agentos');
    expect(stdout).toContain('bashcompinit');
    expect(stdout).toContain('complete -F _agentos agentos');
  });

  it('throws a one-line usage error for another shell', async () => {
    expect(await agentos(['completion', 'fish'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'agentos: completion takes bash or zsh\n',
    });
  });
});
