import { serviceTokenIssuerFromEnv } from '../../shared/auth/auth-config.ts';
import { AllowedHosts } from '../../shared/net/address-policy.ts';
import { createSafeFetch } from '../../shared/net/safe-fetch.ts';
import { ModelPolicyClient } from '../adapters/model-policy/model-policy-client.ts';
import type { ToolPort } from '../ports/tool-port.ts';
import { createStepEngine } from '../runtime/step-engine.ts';
import { lazyModule } from './lazy-module.ts';
import type { OrchestratorCore } from './orchestrator-core.ts';
import { stepWorkerConfigFromEnv } from './orchestrator-config.ts';
import { runStopperOf } from './orchestrator-stopper.ts';
import { orchestratorStoresOf } from './orchestrator-stores.ts';

/**
 * A ToolPort that builds the tool catalog on first use: an agent without tools describes none, so
 * its steps load no catalog (nor the Secrets Manager client for HTTP tools' credentials).
 */
export function toolsOnFirstUse(catalog: () => Promise<ToolPort>): ToolPort {
  return {
    describe: async (auth, toolIds) =>
      toolIds.length === 0 ? [] : (await catalog()).describe(auth, toolIds),
    invoke: async (...args) => (await catalog()).invoke(...args),
  };
}

/**
 * The step worker's parts: its settings, the engine, the redelivery backoff of retried steps, and
 * the driver whose step tasks it answers.
 */
export function orchestratorStepWorker(core: OrchestratorCore) {
  const { env, transportSettings, runs, queue, driver, agents, sink } = core;
  const { toolRegistry, memory } = orchestratorStoresOf(core);
  const { reportFailure, now, telemetry, runSlots, limiter, transport, stepAge, stepToolsModule } = core;
  const { admission } = core.tenancy;
  const worker = stepWorkerConfigFromEnv(env);
  // Built with the first step of an agent that has tools: one catalog, so its caches are shared.
  const catalog = lazyModule(undefined, async () =>
    (await stepToolsModule()).createToolCatalog(transportSettings, {
      // The tenants' HTTP tools come from the tool registry of the tools API (HLD §3.1).
      registry: toolRegistry,
      memory: memory,
      fetch: createSafeFetch({ allowedHosts: new AllowedHosts(worker.toolAllowedHosts) }),
      secretPrefix: worker.toolSecretPrefix,
    }),
  );
  const tools = toolsOnFirstUse(catalog);
  const engine = createStepEngine({
    runs,
    queue,
    driver,
    agents,
    sink,
    tools,
    models: new ModelPolicyClient({
      baseUrl: worker.modelPolicyUrl,
      issuer: serviceTokenIssuerFromEnv(env),
      timeoutMs: worker.modelTimeoutMs,
      actor: 'agent-orchestrator',
    }),
    reportFailure,
    now,
    warn: (message, context) => telemetry.logger.warn(message, context),
    limits: { admission, slots: runSlots, limiter },
  });
  const redeliverAfter = async (
    receiptHandle: string,
    attempt: number,
    seconds?: number,
    queueArn?: string,
  ) => {
    const { backoff, redeliveryDelaySeconds } = await transport();
    return backoff.redeliverAfter(
      receiptHandle,
      Math.min(worker.stepRetryMaxDelaySeconds, seconds ?? redeliveryDelaySeconds(attempt)),
      queueArn,
    );
  };
  return {
    config: worker,
    engine,
    redeliverAfter,
    driver,
    reportFailure,
    stepAge,
    stopper: runStopperOf(core),
  };
}
