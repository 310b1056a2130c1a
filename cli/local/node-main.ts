import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { startLocalNode } from './local-node.ts';
import type { LocalNodeSettings } from './local-node.ts';
import { ensureNodeKeys } from './node-keys.ts';

/**
 * Entry point of a local node's background process (started by `agentos up --local`):
 * `node cli/local/node-main.ts <settings.json> <ready.json>`. It writes the ready file once both
 * APIs listen and stops cleanly on SIGTERM.
 */
const SettingsFileSchema = z.object({
  nodeId: z.string(),
  host: z.string(),
  orchestratorPort: z.number().int(),
  modelPolicyPort: z.number().int(),
  awsEndpoint: z.string(),
  region: z.string(),
  keysDir: z.string(),
  /** Where the node journals the step messages it is working on, so a restart can release them. */
  inFlightFile: z.string().optional(),
  issuer: z.string(),
  audience: z.string(),
  resources: z.object({
    tableName: z.string(),
    stepQueueUrl: z.string(),
    stepQueueArn: z.string(),
    stepDeadLetterQueueUrl: z.string(),
    stateMachineArn: z.string(),
    alertSender: z.string(),
  }),
  functionEnv: z.record(z.string(), z.string()),
});

export type NodeSettingsFile = z.infer<typeof SettingsFileSchema>;

async function main(): Promise<void> {
  const [settingsPath, readyPath] = process.argv.slice(2);
  if (settingsPath === undefined || readyPath === undefined)
    throw new Error('usage: node-main.ts <settings.json> <ready.json>');
  const file = SettingsFileSchema.parse(JSON.parse(await readFile(settingsPath, 'utf8')));
  const keys = await ensureNodeKeys(file.keysDir);
  const settings: LocalNodeSettings = {
    nodeId: file.nodeId,
    host: file.host,
    orchestratorPort: file.orchestratorPort,
    modelPolicyPort: file.modelPolicyPort,
    awsEndpoint: file.awsEndpoint,
    region: file.region,
    resources: file.resources,
    jwt: {
      issuer: file.issuer,
      audience: file.audience,
      jwks: keys.jwks,
      serviceSigningKey: keys.signingKey,
    },
    functionEnv: file.functionEnv,
    ...(file.inFlightFile === undefined ? {} : { inFlightFile: file.inFlightFile }),
  };
  const node = await startLocalNode(settings);
  // Written whole, then renamed, so `up` never reads half a file.
  await writeFile(
    `${readyPath}.tmp`,
    JSON.stringify({
      pid: process.pid,
      orchestrator_url: node.orchestratorUrl,
      model_policy_url: node.modelPolicyUrl,
    }),
  );
  await rename(`${readyPath}.tmp`, readyPath);
  console.log(
    `agentos node ${file.nodeId}: orchestrator ${node.orchestratorUrl}, model policy ${node.modelPolicyUrl}`,
  );
  const shutdown = () => {
    void node.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error('agentos node failed to start:', error instanceof Error ? error.stack : error);
  process.exit(1);
});
