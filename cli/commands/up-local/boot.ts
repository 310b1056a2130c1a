import { ensureNodeSigningKeys } from '../../aws/node-signing-keys.ts';
import { configureEmulator, startMoto, waitForHttp } from '../../local/emulator.ts';
import { deployNodeStack, ensureBootstrapped, localDeployContext } from '../../local/local-deploy.ts';
import { writeLocalState } from '../../local/local-state.ts';
import type { LocalState } from '../../local/local-state.ts';
import { localTokenIssuer } from '../../local/local-tokens.ts';
import { nodeProcessSettings, otlpTracesUrlOf, startNodeProcess } from '../../local/host-process.ts';
import { ensureSesSender } from '../remote/deploy.ts';
import { NodeConfigSchema } from '../../config/node-config.ts';
import { alertsFiles, startAlertsProcess } from '../../local/alerts-process.ts';
import { stopProcess } from '../../local/processes.ts';
import type { RemoteContext } from '../remote/remote-context.ts';
import type { BootedNode, ResumePlan, UpContext } from './up-context.ts';

/** The emulator endpoint: the resumed node's, an external one, or a moto started now. */
async function emulatorEndpoint(context: UpContext, resume: ResumePlan | undefined): Promise<string> {
  const { defaults, paths, started } = context;
  if (resume !== undefined) return resume.state.emulator.endpoint;
  if (defaults.externalEmulator) {
    await waitForHttp(defaults.emulatorEndpoint, 10_000);
    await configureEmulator(defaults.emulatorEndpoint);
    return defaults.emulatorEndpoint;
  }
  const emulator = await startMoto({
    port: defaults.emulatorPort,
    logFile: paths.emulatorLog,
    detached: true,
  });
  started.emulatorPid = emulator.pid;
  return emulator.endpoint;
}

/**
 * Starts the node's background process, the artifact host: it runs the functions the stack
 * deployed, from their deployment packages and with their deployed environments, on the node's
 * fixed ports, and journals its in-flight step messages. Waits until both APIs answer.
 */
async function spawnNode(context: UpContext, deploy: RemoteContext) {
  const { defaults, paths } = context;
  const settings = nodeProcessSettings(deploy, {
    orchestratorPort: defaults.orchestratorPort,
    modelPolicyPort: defaults.modelPolicyPort,
    cacheDir: paths.codeCache,
    inFlightFile: paths.inFlight,
    otlpTracesUrl: otlpTracesUrlOf(defaults, context.options.observability),
  });
  const { child, ready } = await startNodeProcess(
    settings,
    { settings: paths.settings, ready: paths.ready, log: paths.nodeLog },
    { detached: true },
  );
  context.started.nodePid = child.pid;
  return { pid: child.pid, ready };
}

/**
 * Starts the node's alerts process (HLD §9.3): its SMTP sink, on a free loopback port, storing
 * every e-mail under the node's state directory, and the alarm evaluator, which reads the node's
 * signals every period and e-mails through the sink. A resumed node's old one is replaced.
 */
async function startNodeAlerts(
  context: UpContext,
  resume: ResumePlan | undefined,
  node: {
    endpoint: string;
    table: string;
    stepDeadLetterQueueUrl: string;
    settlementQueueUrl: string;
    settlementDeadLetterQueueUrl: string;
    orchestratorUrl: string;
    modelPolicyUrl: string;
  },
): Promise<NonNullable<LocalState['alerts']>> {
  const { options, paths, defaults } = context;
  await stopProcess(resume?.state.alerts?.pid);
  const alerts = options.alerts ?? NodeConfigSchema.shape.alerts.parse(undefined);
  const files = alertsFiles(paths.dir);
  const started = await startAlertsProcess(
    {
      node_id: options.nodeId,
      stage: options.nodeId,
      host: '127.0.0.1',
      smtp_port: 0,
      mail_dir: paths.mail,
      from: alerts.sender,
      to: alerts.recipients.length > 0 ? alerts.recipients : [`operator@${options.nodeId}.agentos.local`],
      window_ms: alerts.window_minutes * 60_000,
      period_seconds: alerts.local_period_seconds,
      thresholds: alerts.thresholds,
      region: defaults.region,
      endpoint: node.endpoint,
      table: node.table,
      // The stack's outputs: its queues' names end in the stack instance's suffix.
      dead_letter_queue_url: node.stepDeadLetterQueueUrl,
      settlement_queue_url: node.settlementQueueUrl,
      settlement_dead_letter_queue_url: node.settlementDeadLetterQueueUrl,
      node_log: paths.nodeLog,
      health_urls: [`${node.orchestratorUrl}/v1/health`, `${node.modelPolicyUrl}/v1/health`],
      orchestrator_url: node.orchestratorUrl,
    },
    files,
    { detached: true },
  );
  context.started.alertsPid = started.pid;
  return {
    pid: started.pid,
    smtp_port: started.smtpPort,
    mail_dir: paths.mail,
    settings_file: files.settings,
    log_file: files.log,
  };
}

function output(outputs: Record<string, string>, key: string, stackName: string): string {
  const value = outputs[key];
  if (value === undefined) throw new Error(`the stack ${stackName} has no ${key} output`);
  return value;
}

/**
 * Boot: the emulator (kept when resuming), `cdk bootstrap` when it is not bootstrapped, the node's
 * signing keys and alert sender, `cdk deploy` of the node stack (skipped when a resumed node's stack
 * is current), the node process serving the deployed functions, and the state file `status`,
 * `token` and `nuke` read.
 */
export async function boot(
  context: UpContext,
  resume: ResumePlan | undefined,
  note: (detail: string) => void,
): Promise<BootedNode> {
  const { defaults, options, report, started, out, runner } = context;
  const endpoint = await emulatorEndpoint(context, resume);
  note(`emulator at ${endpoint}`);
  const deploy = localDeployContext({
    nodeId: options.nodeId,
    region: defaults.region,
    emulatorEndpoint: endpoint,
    out,
    runner,
    report,
    ...(options.tools === undefined ? {} : { tools: options.tools }),
    ...(options.capacity === undefined ? {} : { capacity: options.capacity }),
  });
  note(await ensureBootstrapped(deploy));
  // The alert sender's identity lives outside the stack, as on AWS; an emulator verifies it at once.
  await ensureSesSender(deploy);
  const keys = await ensureNodeSigningKeys(deploy.client, options.nodeId);
  note(`${keys.created ? 'created' : 'kept'} the node signing keys (${keys.kids.join(', ')})`);
  const outputs = await deployNodeStack(deploy, keys, note);
  const { pid, ready } = await spawnNode(context, deploy);
  note(`node process ${pid} serving the orchestrator at ${ready.orchestrator_url}`);
  const alerts = await startNodeAlerts(context, resume, {
    endpoint,
    table: output(outputs, 'TableName', deploy.stackName),
    stepDeadLetterQueueUrl: output(outputs, 'StepDeadLetterQueueUrl', deploy.stackName),
    settlementQueueUrl: output(outputs, 'SettlementQueueUrl', deploy.stackName),
    settlementDeadLetterQueueUrl: output(outputs, 'SettlementDeadLetterQueueUrl', deploy.stackName),
    orchestratorUrl: ready.orchestrator_url,
    modelPolicyUrl: ready.model_policy_url,
  });
  note(
    `alerts process ${alerts.pid ?? 'unknown'}: SMTP sink on 127.0.0.1:${alerts.smtp_port}, e-mail stored in ${alerts.mail_dir}`,
  );
  const previous = resume?.state.emulator;
  const stackName = deploy.stackName;
  const state: LocalState = {
    node_id: options.nodeId,
    started_at: report.started_at,
    emulator: previous ?? {
      endpoint,
      pid: started.emulatorPid ?? null,
      managed: !defaults.externalEmulator,
      log_file: defaults.externalEmulator ? null : context.paths.emulatorLog,
    },
    node: {
      pid: pid ?? null,
      orchestrator_url: ready.orchestrator_url,
      model_policy_url: ready.model_policy_url,
      log_file: context.paths.nodeLog,
    },
    resources: {
      table: output(outputs, 'TableName', stackName),
      step_queue_url: output(outputs, 'StepQueueUrl', stackName),
      state_machine_arn: output(outputs, 'RunDeadlineStateMachineArn', stackName),
    },
    stack: {
      name: stackName,
      region: defaults.region,
      node_issuer: output(outputs, 'NodeIssuer', stackName),
      signing_kid: output(outputs, 'ServiceSigningKid', stackName),
    },
    seeded: resume?.state.seeded ?? {},
    alerts,
  };
  await writeLocalState(state);
  report.endpoints = {
    orchestrator: ready.orchestrator_url,
    model_policy: ready.model_policy_url,
    aws_emulator: endpoint,
    stack: stackName,
    table: state.resources.table,
    step_queue: state.resources.step_queue_url,
    state_machine: state.resources.state_machine_arn,
    smtp_sink: `smtp://127.0.0.1:${alerts.smtp_port}`,
  };
  report.notes.push(
    `The emulator does not execute Lambda functions: the node process serves the functions its stack deployed (their deployment packages, with the environments CloudFormation resolved and the deployed API routes) on this machine; log ${context.paths.nodeLog}.`,
    ...ready.notes.map((line) => `Node process: ${line}`),
  );
  return {
    state,
    aws: { region: defaults.region, endpoint, maxAttempts: 3 },
    outputs,
    tokens: await localTokenIssuer(state),
  };
}
