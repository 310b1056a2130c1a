import { startLocalNode } from '../../cli/local/local-node.ts';
import { publicJwks } from '../../functions/shared/auth/signing-keys.ts';
import type { SigningJwk } from '../../functions/shared/auth/token-issuer.ts';
import type { ProvisionedResources } from '../../infra/local/provision-emulator.ts';

/**
 * One node in its own process, for tests that need two nodes side by side (two-nodes.ts): the
 * handlers read `process.env` at import, so a second node in the test process would share the
 * first one's settings. Started with its settings as JSON in `AGENTOS_TEST_NODE`; prints one ready
 * line of JSON on stdout and stops on SIGTERM or when its standard input closes (its parent died).
 */

/** What the parent hands the node process. */
export type NodeProcessSettings = {
  nodeId: string;
  issuer: string;
  audience: string;
  /** Every key the node publishes; the first signs. */
  keys: SigningJwk[];
  resources: ProvisionedResources;
  awsEndpoint: string;
  region: string;
  /** 0 picks a free port; a restarted node keeps its port, so the URLs it handed out stay valid. */
  orchestratorPort: number;
  functionEnv: Record<string, string>;
};

/** The ready line. */
export type NodeProcessReady = { orchestrator_url: string; model_policy_url: string };

const settings = JSON.parse(process.env['AGENTOS_TEST_NODE'] ?? '') as NodeProcessSettings;
const jwks = publicJwks({ keys: settings.keys });
const node = await startLocalNode({
  nodeId: settings.nodeId,
  host: '127.0.0.1',
  orchestratorPort: settings.orchestratorPort,
  modelPolicyPort: 0,
  awsEndpoint: settings.awsEndpoint,
  region: settings.region,
  resources: settings.resources,
  jwt: { issuer: settings.issuer, audience: settings.audience, jwks, serviceSigningKey: settings.keys[0]! },
  functionEnv: settings.functionEnv,
});

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await node.stop();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
const ready: NodeProcessReady = {
  orchestrator_url: node.orchestratorUrl,
  model_policy_url: node.modelPolicyUrl,
};
process.stdout.write(`${JSON.stringify(ready)}\n`);
