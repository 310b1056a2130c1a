import { humanOutput } from '../cli-output.ts';
import type { NodeConfig } from '../../config/node-config.ts';
import type { AwsClientConfig } from '../../../functions/shared/aws/client-config.ts';
import type { TokenIssuer } from '../../../functions/shared/auth/token-issuer.ts';
import { localNodeDefaults } from '../../local/local-defaults.ts';
import type { LocalState } from '../../local/local-state.ts';
import { nodePaths } from '../../local/local-state.ts';
import { newOperatorReport } from '../../reports/operator-report.ts';
import type { OperatorReport } from '../../reports/operator-report.ts';
import { PhaseRunner } from '../../reports/phase-runner.ts';

/** Options of `agentos up --local`. */
export type UpLocalOptions = {
  nodeId: string;
  portBase: number;
  out?: NodeJS.WritableStream;
  /** The `tools` section of the node configuration (`tools.allowed_hosts`); the defaults without it. */
  tools?: NodeConfig['tools'];
  /**
   * The `capacity` section of the node configuration (`capacity.max_concurrent_runs`, `capacity.mode`),
   * which the node's functions read as their node run capacity; the defaults without it.
   */
  capacity?: NodeConfig['capacity'];
  /**
   * The `alerts` section of the node configuration (recipients, dedup window, this stage's
   * thresholds, the local evaluation period); the defaults without it.
   */
  alerts?: NodeConfig['alerts'];
  /**
   * The `observability` section of the node configuration: the node process exports its spans to
   * `otlp_traces_url` (the environment's `AGENTOS_OTLP_TRACES_URL` wins); none without it.
   */
  observability?: NodeConfig['observability'];
  /** Send a test alert through the node's SMTP sink after validate (default true; `--no-test-alert`). */
  testAlert?: boolean;
};

/** What every phase of `up --local` reads and fills in. */
export type UpContext = {
  options: UpLocalOptions;
  out: NodeJS.WritableStream;
  runner: PhaseRunner;
  paths: ReturnType<typeof nodePaths>;
  defaults: ReturnType<typeof localNodeDefaults>;
  report: OperatorReport;
  /** Processes this run started, stopped again when boot fails. */
  started: { emulatorPid?: number | undefined; nodePid?: number | undefined; alertsPid?: number | undefined };
  /** Whether this run holds the node's start-up lock (released at the end). */
  ownsLock: boolean;
};

/**
 * A stopped or crashed node found by preflight whose data is still there: its emulator (managed and
 * alive, or external) keeps the node's stack with its table and queues, so `up` restarts the node
 * process on them (deploying again only when the checkout changed).
 */
export type ResumePlan = { state: LocalState };

/** What boot leaves for the later phases. */
export type BootedNode = {
  state: LocalState;
  aws: AwsClientConfig;
  /** The deployed stack's outputs. */
  outputs: Record<string, string>;
  /** Signs tokens the node accepts (its deployed key and issuer). */
  tokens: TokenIssuer;
};

/** A fresh context for one `up --local`. */
export function newUpContext(options: UpLocalOptions): UpContext {
  const out = options.out ?? humanOutput();
  const runner = new PhaseRunner(out);
  const report = newOperatorReport(
    'up',
    options.nodeId,
    options.testAlert === false ? 'not sent: --no-test-alert' : 'not sent: up stopped before it',
  );
  report.phases = runner.phases;
  return {
    options,
    out,
    runner,
    paths: nodePaths(options.nodeId),
    defaults: localNodeDefaults(options.nodeId, options.portBase),
    report,
    started: {},
    ownsLock: false,
  };
}
