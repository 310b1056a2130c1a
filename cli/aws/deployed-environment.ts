import { createHash } from 'node:crypto';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import type { DeployedAwsSettings } from './deployed-aws.ts';

/** A deployed base URL (ending in `/`) and the local one standing in for it (ending in `/`). */
export type UrlRewrite = { from: string; to: string };

/** A function's variable whose deployed API URL was pointed at a local front. */
export type RewrittenVariable = { function: FunctionName; variable: string; from: string; to: string };

/** A function's variable that holds a deployed API URL and was left as deployed, and why. */
export type KeptVariable = { function: FunctionName; variable: string; value: string; reason: string };

/** The one environment every hosted function shares, and how it was made. */
export type SharedEnvironment = {
  variables: Record<string, string>;
  rewritten: RewrittenVariable[];
  /** Variables holding a deployed API URL that were not rewritten: identities, not addresses. */
  kept: KeptVariable[];
  /** Variables each function has its own value of, left out of the shared environment (see below). */
  functionScoped: string[];
};

/**
 * Variables that are per function by nature and that the code never takes from the environment,
 * so one process can host functions with different values: each composition root passes its
 * Powertools service name to Logger, Tracer and Metrics explicitly
 * (functions/shared/observability/telemetry.ts), and Powertools prefers that to the variable.
 */
export const functionScopedVariables: readonly string[] = ['POWERTOOLS_SERVICE_NAME'];

/**
 * Variables holding a token issuer (`…_ISSUER`, `…_ISSUERS`): an issuer is an identity, compared
 * with the `iss` of tokens, not an address. A node's issuer is its Orchestrator's deployed URL; DNS
 * sends requests for that URL elsewhere but does not change what a token says, so the issuer stays
 * as deployed, and tokens minted for the deployed node keep verifying on this machine.
 */
export const identityVariablePattern = /_ISSUERS?$/;

/** Who set a variable: a function, or the stand-in for the Lambda runtime. */
type Setter = FunctionName | 'runtime';

/** Raised when two functions need the same variable to hold different values in one process. */
export class EnvironmentConflictError extends Error {
  readonly conflicts: { variable: string; values: { value: string; setBy: Setter[] }[] }[];

  constructor(conflicts: EnvironmentConflictError['conflicts']) {
    super(
      'The deployed functions cannot share one process: they set the same variable to different values\n' +
        conflicts
          .map(
            (c) =>
              `  ${c.variable}: ` +
              c.values.map((v) => `${shown(c.variable, v.value)} (${v.setBy.join(', ')})`).join(' vs '),
          )
          .join('\n'),
    );
    this.name = 'EnvironmentConflictError';
    this.conflicts = conflicts;
  }
}

/** A value as an error message may show it: secrets only by a fingerprint. */
function shown(variable: string, value: string): string {
  if (/KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL/i.test(variable) && !variable.endsWith('_ARN'))
    return `<sha256 ${createHash('sha256').update(value).digest('hex').slice(0, 12)}>`;
  return JSON.stringify(value);
}

/**
 * What the Lambda runtime would provide, standing in for it on this machine: the AWS endpoint every
 * AgentOS client reads (`AGENTOS_AWS_ENDPOINT`, see functions/shared/aws/client-config.ts), region,
 * credentials, and tracing and metrics off (no X-Ray daemon or CloudWatch agent here).
 */
export function runtimeEnvironment(aws: DeployedAwsSettings): Record<string, string> {
  const credentials = aws.credentials ?? { accessKeyId: 'test', secretAccessKey: 'test' };
  return {
    ...(aws.endpoint === undefined ? {} : { AGENTOS_AWS_ENDPOINT: aws.endpoint }),
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...(credentials.sessionToken === undefined ? {} : { AWS_SESSION_TOKEN: credentials.sessionToken }),
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
}

/**
 * Points a value that starts with a deployed API's URL at the local front instead, as API
 * Gateway's DNS would lead it to the API on AWS; other values are returned as they are.
 */
export function rewriteApiUrl(value: string, rewrites: readonly UrlRewrite[]): string {
  // The longest URL first, so a stage's URL wins over a shorter one it extends.
  for (const { from, to } of [...rewrites].sort((a, b) => b.from.length - a.from.length)) {
    if (value.startsWith(from)) return to + value.slice(from.length);
    if (value === from.replace(/\/$/, '')) return to.replace(/\/$/, '');
  }
  return value;
}

/**
 * The union of the functions' environments, with deployed API URLs rewritten (except in issuer
 * variables, see {@link identityVariablePattern}) and the runtime's stand-ins added. One process
 * hosts them all and `process.env` is shared, so a variable two setters give different values is
 * refused ({@link EnvironmentConflictError}, naming each), except the
 * {@link functionScopedVariables}, which are left out.
 */
export function sharedEnvironment(
  perFunction: Readonly<Record<FunctionName, Readonly<Record<string, string>>>>,
  runtime: Readonly<Record<string, string>>,
  rewrites: readonly UrlRewrite[],
): SharedEnvironment {
  const rewritten: RewrittenVariable[] = [];
  const kept: KeptVariable[] = [];
  const deployedUrls = rewrites.map(({ from }) => from.replace(/\/$/, ''));
  const setters = new Map<string, Map<string, Setter[]>>();
  const record = (variable: string, value: string, setter: Setter) => {
    const values = setters.get(variable) ?? new Map<string, Setter[]>();
    values.set(value, [...(values.get(value) ?? []), setter]);
    setters.set(variable, values);
  };
  for (const [name, environment] of Object.entries(perFunction) as [FunctionName, Record<string, string>][]) {
    for (const [variable, deployed] of Object.entries(environment)) {
      const identity = identityVariablePattern.test(variable);
      const value = identity ? deployed : rewriteApiUrl(deployed, rewrites);
      if (value !== deployed) rewritten.push({ function: name, variable, from: deployed, to: value });
      else if (deployedUrls.some((url) => deployed.includes(url)))
        kept.push({
          function: name,
          variable,
          value: deployed,
          reason: identity
            ? 'a token issuer: an identity, not an address'
            : 'the URL is inside the value, not its start',
        });
      record(variable, value, name);
    }
  }
  for (const [variable, value] of Object.entries(runtime)) record(variable, value, 'runtime');

  const variables: Record<string, string> = {};
  const functionScoped: string[] = [];
  const conflicts: EnvironmentConflictError['conflicts'] = [];
  for (const [variable, values] of [...setters].sort(([a], [b]) => a.localeCompare(b))) {
    if (functionScopedVariables.includes(variable)) {
      functionScoped.push(variable);
      continue;
    }
    if (values.size > 1) {
      conflicts.push({ variable, values: [...values].map(([value, setBy]) => ({ value, setBy })) });
      continue;
    }
    variables[variable] = [...values.keys()][0]!;
  }
  if (conflicts.length > 0) throw new EnvironmentConflictError(conflicts);
  return { variables, rewritten, kept, functionScoped };
}
