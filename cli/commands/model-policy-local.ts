import { readFile } from 'node:fs/promises';
import { scopes, TenantIdSchema } from '../../functions/shared/auth/auth-context.ts';
import { localNodeDefaults } from '../local/local-defaults.ts';
import { readLocalState } from '../local/local-state.ts';
import { localTokenIssuer } from '../local/local-tokens.ts';

async function readPolicy(file: string): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `agentos model-policy get|set --local --tenant T [--file F]`: reads or replaces a tenant's budgets,
 * entitlements and policy through the Model Policy's admin API, as an operator of the local node.
 */
export async function modelPolicyLocal(options: {
  action: 'get' | 'set';
  nodeId: string;
  tenant: string;
  file?: string;
  out?: NodeJS.WritableStream;
}): Promise<number> {
  const out = options.out ?? process.stdout;
  if (!TenantIdSchema.safeParse(options.tenant).success) {
    process.stderr.write(`Invalid tenant id "${options.tenant}".\n`);
    return 2;
  }
  const state = await readLocalState(options.nodeId);
  if (state === undefined) {
    process.stderr.write(
      `Local node "${options.nodeId}" is not running: run \`agentos up --local\` first.\n`,
    );
    return 1;
  }
  let body: string | undefined;
  if (options.action === 'set') {
    if (options.file === undefined) {
      process.stderr.write(
        '`model-policy set` needs --file <policy.json> (or --file - for standard input).\n',
      );
      return 2;
    }
    body = await readPolicy(options.file);
    try {
      JSON.parse(body);
    } catch {
      process.stderr.write(`${options.file} is not valid JSON.\n`);
      return 2;
    }
  }
  const defaults = localNodeDefaults(options.nodeId, 0);
  // A node that is down is reported as such (exit 3) before its key is read from the emulator.
  await fetch(`${state.node.model_policy_url}/v1/health`, { signal: AbortSignal.timeout(10_000) });
  const issuer = await localTokenIssuer(state);
  const token = await issuer.issue({
    tenantId: defaults.operatorTenantId,
    subject: 'operator@local',
    scopes: [scopes.operator],
    ttlSeconds: 120,
  });
  const response = await fetch(
    `${state.node.model_policy_url}/v1/admin/tenants/${options.tenant}/model-policy`,
    {
      method: options.action === 'get' ? 'GET' : 'PUT',
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body }),
    },
  );
  const text = await response.text();
  let pretty = text;
  try {
    pretty = JSON.stringify(JSON.parse(text), null, 2);
  } catch (error) {
    // Not JSON: show it as it came.
    if (!(error instanceof SyntaxError)) throw error;
  }
  (response.ok ? out : process.stderr).write(`${pretty}\n`);
  return response.ok ? 0 : 1;
}
