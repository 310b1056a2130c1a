import type { FunctionName } from '../resources/definitions.ts';

/**
 * What each function may load at init (Lambda's cold start): at most `initKiB` of minified
 * JavaScript, and exactly the AWS SDK clients its init needs. A function reaches anything else
 * through `await import()`, which the bundler keeps in chunks loaded on first use. Checked by
 * test/infra/bundle-budget.unit.test.ts and printed by `npm run bench:bundles`.
 */
export type BundleBudget = {
  /** The most KiB of the entry and its static chunks. */
  initKiB: number;
  /** The `@aws-sdk/client-*` packages loaded at init, by name, and no others. */
  clients: readonly string[];
};

/**
 * Today's sizes plus a little room: a change that grows a bundle past its budget must either cut
 * elsewhere or raise the budget here, visibly in review.
 */
export const bundleBudgets: Record<FunctionName, BundleBudget> = {
  // Serves every route: runs are created and canceled here, so SQS and Step Functions load at init.
  orchestratorApi: {
    initKiB: 880,
    clients: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-sfn', '@aws-sdk/client-sqs'],
  },
  // Serves the streaming routes alone; runs are created or canceled here rarely, so SQS and Step
  // Functions load on first use.
  orchestratorEvents: { initKiB: 730, clients: ['@aws-sdk/client-dynamodb'] },
  // Tools (and Secrets Manager, for HTTP tools' credentials) load with the first step of an agent
  // that has tools.
  stepWorker: {
    initKiB: 785,
    clients: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-sfn', '@aws-sdk/client-sqs'],
  },
  // A backend's provider adapter loads on its first call (Bedrock Runtime only on a Bedrock
  // backend's), Secrets Manager on the first credential reference it resolves, RE2 with the first
  // policy holding a content pattern.
  modelPolicyApi: { initKiB: 735, clients: ['@aws-sdk/client-dynamodb'] },
  // Writes queued settlements to the ledger on the table, and nothing else (HLD §5.3).
  settlementWorker: { initKiB: 565, clients: ['@aws-sdk/client-dynamodb'] },
  // Alarms repeated within the dedup window send nothing: SES, Secrets Manager and nodemailer load on
  // the first e-mail.
  alertNotifier: { initKiB: 530, clients: ['@aws-sdk/client-dynamodb'] },
};

/** The `@aws-sdk/client-*` packages among a bundle's input paths (`node_modules/…`). */
export function sdkClientsOf(inputs: readonly string[]): string[] {
  const clients = new Set<string>();
  for (const input of inputs) {
    const match = /node_modules\/(@aws-sdk\/client-[a-z0-9-]+)\//.exec(input);
    if (match?.[1] !== undefined) clients.add(match[1]);
  }
  return [...clients].sort();
}
