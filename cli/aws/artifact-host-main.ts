import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { startArtifactHost } from './artifact-host.ts';

/**
 * Entry point of an artifact host's background process:
 * `node cli/aws/artifact-host-main.ts <settings.json> <ready.json>`. It runs a deployed node stack
 * from its deployed artifacts, writes the ready file (URLs, pid, notes) once both APIs listen, and
 * stops cleanly on SIGTERM, enabling the stack's event source mapping again.
 */
const SettingsFileSchema = z.strictObject({
  stackName: z.string().min(1),
  region: z.string().min(1),
  /** An emulator's endpoint; absent for AWS itself. */
  endpoint: z.url().optional(),
  /** Absent: the SDK's default credential chain. */
  credentials: z
    .strictObject({
      accessKeyId: z.string().min(1),
      secretAccessKey: z.string().min(1),
      sessionToken: z.string().min(1).optional(),
    })
    .optional(),
  cacheDir: z.string().min(1),
  host: z.string().min(1).optional(),
  orchestratorPort: z.number().int().min(0).max(65_535).optional(),
  modelPolicyPort: z.number().int().min(0).max(65_535).optional(),
  pollerConcurrency: z.number().int().min(1).max(100).optional(),
  pauseDeployedEventSource: z.boolean().optional(),
  /** Where the host journals the step messages it is working on, so a restart can release them. */
  inFlightFile: z.string().min(1).optional(),
  /** Log one structured line per answered request (the local node's alarms read them). */
  accessLog: z.boolean().optional(),
  /** Where the hosted functions export their spans over OTLP/HTTP (`AGENTOS_OTLP_TRACES_URL`). */
  otlpTracesUrl: z.url({ protocol: /^https?$/ }).optional(),
});

/** What the settings file holds. */
export type ArtifactHostSettingsFile = z.infer<typeof SettingsFileSchema>;

async function main(): Promise<void> {
  const [settingsPath, readyPath] = process.argv.slice(2);
  if (settingsPath === undefined || readyPath === undefined)
    throw new Error('usage: artifact-host-main.ts <settings.json> <ready.json>');
  const file = SettingsFileSchema.parse(JSON.parse(await readFile(settingsPath, 'utf8')));
  const { stackName, region, endpoint, credentials, ...options } = file;
  const host = await startArtifactHost({
    ...options,
    stackName,
    aws: {
      region,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(credentials === undefined ? {} : { credentials }),
    },
  });
  // Written whole, then renamed, so a reader never sees half a file.
  await writeFile(
    `${readyPath}.tmp`,
    JSON.stringify({
      pid: process.pid,
      orchestrator_url: host.orchestratorUrl,
      model_policy_url: host.modelPolicyUrl,
      functions: Object.fromEntries(
        Object.entries(host.functions).map(([name, f]) => [
          name,
          { function_name: f.functionName, module_path: f.modulePath, code_sha256: f.codeSha256 },
        ]),
      ),
      rewritten: host.environment.rewritten.map((r) => `${r.function} ${r.variable}`),
      notes: host.notes,
    }),
  );
  await rename(`${readyPath}.tmp`, readyPath);
  console.log(
    `agentos artifact host ${stackName}: orchestrator ${host.orchestratorUrl}, model policy ${host.modelPolicyUrl}`,
  );
  for (const note of host.notes) console.log(`note: ${note}`);
  const shutdown = () => {
    host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(
          'agentos artifact host failed to stop cleanly:',
          error instanceof Error ? error.message : error,
        );
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error('agentos artifact host failed to start:', error instanceof Error ? error.stack : error);
  process.exit(1);
});
