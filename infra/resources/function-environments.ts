import {
  modelPolicyEnv,
  settlementWorkerEnv,
} from '../../functions/model-policy/composition/model-policy-config.ts';
import {
  orchestratorHttpEnv,
  stepWorkerEnv,
} from '../../functions/orchestrator/composition/orchestrator-config.ts';
import { alertNotifierEnv } from '../../functions/alert-notifier/composition/alert-notifier-config.ts';
import type { EnvContract, EnvSpec } from '../../functions/shared/config/env-contract.ts';
import type { FunctionName } from './definitions.ts';

/** The environment contract each function's composition root parses at load. */
export const functionEnvironments: Record<FunctionName, EnvContract<EnvSpec>> = {
  orchestratorApi: orchestratorHttpEnv,
  orchestratorEvents: orchestratorHttpEnv,
  stepWorker: stepWorkerEnv,
  modelPolicyApi: modelPolicyEnv,
  settlementWorker: settlementWorkerEnv,
  alertNotifier: alertNotifierEnv,
};
