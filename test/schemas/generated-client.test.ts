import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleAgent } from '../../cli/local/seed.ts';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';

/**
 * A client generated from the committed OpenAPI documents the way an integrator would (openapi-typescript
 * for the types, openapi-fetch for the calls) must type-check against them and work against a live node.
 */

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

/** What an integrator writes: typed calls, and misuses the generated types must refuse. */
const usage = `import createClient from 'openapi-fetch';
import type { paths as ModelPolicyPaths } from './model-policy.ts';
import type { paths as OrchestratorPaths } from './orchestrator.ts';

export async function useOrchestrator(baseUrl: string, token: string) {
  const anonymous = createClient<OrchestratorPaths>({ baseUrl });
  const health = await anonymous.GET('/v1/health');
  const status: 'ok' | undefined = health.data?.status;
  const client = createClient<OrchestratorPaths>({ baseUrl, headers: { authorization: \`Bearer \${token}\` } });
  const agents = await client.GET('/v1/agents', { params: { query: { limit: 10 } } });
  const agentIds: string[] | undefined = agents.data?.data.map((agent) => agent.agent_id);
  const missing = await client.GET('/v1/agents/{agent_id}', { params: { path: { agent_id: 'no-such-agent' } } });
  const code: string | undefined = missing.error?.error.code;
  return { status, agentIds, missingStatus: missing.response.status, code };
}

export function misuses(baseUrl: string): void {
  const client = createClient<OrchestratorPaths>({ baseUrl });
  // @ts-expect-error no such path
  void client.GET('/v1/no-such-path');
  // @ts-expect-error agent_id is a required path parameter
  void client.GET('/v1/agents/{agent_id}', {});
  // @ts-expect-error limit is a number
  void client.GET('/v1/agents', { params: { query: { limit: 'ten' } } });
  const models = createClient<ModelPolicyPaths>({ baseUrl });
  // @ts-expect-error the Model Policy serves no runs
  void models.GET('/v1/runs');
}
`;

const tsconfig = {
  compilerOptions: {
    strict: true,
    noEmit: true,
    target: 'es2024',
    lib: ['es2024', 'dom'],
    module: 'nodenext',
    moduleResolution: 'nodenext',
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    types: [],
  },
  include: ['*.ts'],
};

type Usage = {
  useOrchestrator(
    baseUrl: string,
    token: string,
  ): Promise<{ status?: string; agentIds?: string[]; missingStatus: number; code?: string }>;
};

let dir: string;
let api: Awaited<ReturnType<typeof startOrchestratorApi>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agentos-client-'));
  // The client project resolves openapi-fetch (and tsc its types) from the repository's packages.
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  writeFileSync(join(dir, 'usage.ts'), usage);
  for (const name of ['orchestrator', 'model-policy']) {
    await run(bin('openapi-typescript'), [`schemas/${name}.openapi.json`, '-o', join(dir, `${name}.ts`)], {
      cwd: root,
    });
  }
  api = await startOrchestratorApi();
  await api.seed('acme');
});

afterAll(async () => {
  await api?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('a client generated from the committed OpenAPI documents', () => {
  it('type-checks typed calls and refuses calls the documents do not allow', async () => {
    const result = await run(bin('tsc'), ['-p', dir]).then(
      () => ({ code: 0, stdout: '' }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );
    expect(result.stdout).toBe('');
    expect(result.code).toBe(0);
  });

  it('returns the health, the agents and a not_found envelope from a live node', async () => {
    const { useOrchestrator } = (await import(join(dir, 'usage.ts'))) as Usage;
    const answer = await useOrchestrator(api.url, await api.auth.token('acme'));
    expect(answer).toEqual({
      status: 'ok',
      agentIds: [sampleAgent.agent_id],
      missingStatus: 404,
      code: 'not_found',
    });
  });
});
