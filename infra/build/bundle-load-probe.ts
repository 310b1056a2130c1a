import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import { alertNotifierEnv } from '../../functions/alert-notifier/composition/alert-notifier-config.ts';
import {
  modelPolicyEnv,
  settlementWorkerEnv,
} from '../../functions/model-policy/composition/model-policy-config.ts';
import {
  orchestratorHttpEnv,
  stepWorkerEnv,
} from '../../functions/orchestrator/composition/orchestrator-config.ts';

/** What importing a bundle in a fresh Node process showed. */
export type BundleLoadOutcome = {
  loaded: boolean;
  /** `typeof` the module's `handler` export when it loaded. */
  handlerType: string | undefined;
  /** The error message when it did not load. */
  error: string | undefined;
  /** Wall-clock time of the whole child process, spawn to exit. */
  processMs: number;
};

/**
 * The part of the Lambda Node.js runtime that handler modules touch at load: middy's streaming mode
 * calls `awslambda.streamifyResponse` when the module is evaluated.
 */
const lambdaRuntimeStub = [
  'globalThis.awslambda = {',
  '  streamifyResponse: (handler) => handler,',
  '  HttpResponseStream: { from: (stream) => stream },',
  '};',
].join('\n');

/** The child's program: install the stub, import the bundle, report what `handler` is. */
function probeProgram(bundleUrl: string): string {
  return [
    lambdaRuntimeStub,
    'try {',
    `  const module = await import(${JSON.stringify(bundleUrl)});`,
    '  process.stdout.write(JSON.stringify({ loaded: true, handlerType: typeof module.handler }));',
    '} catch (error) {',
    '  process.stdout.write(JSON.stringify({ loaded: false, error: String(error?.message ?? error) }));',
    '}',
  ].join('\n');
}

/** The program of an empty Node start, measured the same way as a bundle load. */
export const emptyProgram = lambdaRuntimeStub;

/** Runs `program` as an ES module in a fresh `node` with exactly `env` (plus PATH); resolves its stdout. */
export function runNodeProgram(
  program: string,
  env: Record<string, string>,
): Promise<{ stdout: string; stderr: string; exitCode: number | null; processMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (exitCode) =>
      resolve({ stdout, stderr, exitCode, processMs: performance.now() - started }),
    );
  });
}

/**
 * Imports a bundle in a fresh Node process with exactly `env`, as Lambda's init phase would, and
 * reports whether it loaded and exported a handler.
 */
export async function probeBundleLoad(
  bundlePath: string,
  env: Record<string, string>,
): Promise<BundleLoadOutcome> {
  const run = await runNodeProgram(probeProgram(pathToFileURL(bundlePath).href), env);
  let report: { loaded?: boolean; handlerType?: string; error?: string } = {};
  try {
    report = JSON.parse(run.stdout) as typeof report;
  } catch {
    report = { loaded: false, error: run.stderr.trim() || `node exited with code ${String(run.exitCode)}` };
  }
  return {
    loaded: report.loaded === true && run.exitCode === 0,
    handlerType: report.handlerType,
    error: report.error,
    processMs: run.processMs,
  };
}

/**
 * An environment with every variable the composition roots read at load, with sample values: what
 * the CDK stack and the local node provide. Only the service signing key is inline here; deployed,
 * it comes from Secrets Manager.
 */
export async function sampleFunctionEnvironment(): Promise<Record<string, string>> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'bundle-probe', alg: 'ES256', use: 'sig' };
  return {
    ...stepWorkerEnv.render({
      AWS_REGION: 'us-east-1',
      AGENTOS_TABLE_NAME: 'agentos-probe',
      AGENTOS_STEP_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/agentos-probe-steps',
      AGENTOS_DEADLINE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/agentos-probe-deadlines',
      AGENTOS_STATE_MACHINE_ARN:
        'arn:aws:states:us-east-1:000000000000:stateMachine:agentos-probe-run-deadline',
      AGENTOS_LONG_RUN_STATE_MACHINE_ARN:
        'arn:aws:states:us-east-1:000000000000:stateMachine:agentos-probe-long-run',
      AGENTOS_MODEL_POLICY_URL: 'https://model-policy.invalid/prod/',
      AGENTOS_NODE_ISSUER: 'https://orchestrator.invalid/prod',
      AGENTOS_JWT_AUDIENCE: 'agentos',
      AGENTOS_SERVICE_SIGNING_KEY: JSON.stringify(signingKey),
      AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN:
        'arn:aws:secretsmanager:us-east-1:000000000000:secret:agentos/probe/service-signing-key-AbCdEf',
      AGENTOS_STEP_MAX_RECEIVES: '5',
    }),
    ...modelPolicyEnv.render({
      AGENTOS_SETTLEMENT_QUEUE_URL:
        'https://sqs.us-east-1.amazonaws.com/000000000000/agentos-probe-settlements',
    }),
    ...settlementWorkerEnv.render({ AGENTOS_TABLE_NAME: 'agentos-probe' }),
    ...orchestratorHttpEnv.render({
      AGENTOS_TRUSTED_ISSUERS: JSON.stringify([
        { issuer: 'https://issuer.invalid/', jwks_url: 'https://issuer.invalid/.well-known/jwks.json' },
      ]),
      AGENTOS_NODE_JWKS: JSON.stringify({ keys: [] }),
      AGENTOS_PUBLIC_API_URL: 'https://orchestrator.invalid/prod',
    }),
    [alertNotifierEnv.names.AGENTOS_NODE_ID]: 'probe',
    [alertNotifierEnv.names.AGENTOS_ALERT_SENDER]: 'alerts@example.com',
    [alertNotifierEnv.names.AGENTOS_ALERT_RECIPIENTS]: 'operators@example.com',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  };
}
