import { readFile } from 'node:fs/promises';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { awsErrorInfo, describeAwsError } from './preflight-aws-errors.ts';
import { failed, ok } from './preflight-check.ts';
import { regionPartition } from './preflight-identity.ts';
import type { Verdict } from './preflight-check.ts';
import { cdkBootstrapCommand, defaultBootstrapQualifier, maskIdentifiers } from './preflight-text.ts';
import { operatorClientConfig } from './target.ts';
import type { RemoteTarget } from './target.ts';

/**
 * The oldest bootstrap stack the node stack deploys onto: `MIN_BOOTSTRAP_STACK_VERSION` of
 * aws-cdk-lib 2.276.0's DefaultStackSynthesizer (core/lib/stack-synthesizers/default-synthesizer.js),
 * which every synthesized stack states as its `requiresBootstrapStackVersion` and enforces with the
 * `CheckBootstrapVersion` rule. The node stack uses no lookups (those need 8) and no session tags
 * (22). test/cli/preflight-helpers.unit.test.ts synthesizes a stack to keep this in step with the
 * installed aws-cdk-lib.
 */
export const minimumBootstrapVersion = 6;

/** The cdk.json context key naming the bootstrap qualifier (aws-cdk-lib's BOOTSTRAP_QUALIFIER_CONTEXT). */
export const bootstrapQualifierContextKey = '@aws-cdk/core:bootstrapQualifier';

const CdkJsonSchema = z.looseObject({
  context: z.looseObject({ [bootstrapQualifierContextKey]: z.string().min(1).optional() }).optional(),
});

/** The bootstrap qualifier the CDK app deploys with: cdk.json's context, else the default. */
export async function bootstrapQualifier(cdkJsonPath: string): Promise<string> {
  const parsed = CdkJsonSchema.safeParse(JSON.parse(await readFile(cdkJsonPath, 'utf8')));
  if (!parsed.success)
    throw new Error(
      `${cdkJsonPath}: context.${bootstrapQualifierContextKey} must be a non-empty string (${parsed.error.issues[0]?.message ?? 'invalid'})`,
    );
  return parsed.data.context?.[bootstrapQualifierContextKey] ?? defaultBootstrapQualifier;
}

/** The SSM parameter `cdk bootstrap` writes its stack's version to. */
export function bootstrapVersionParameter(qualifier: string): string {
  return `/cdk-bootstrap/${qualifier}/version`;
}

/**
 * Checks that the target's environment is bootstrapped for the CDK with a recent enough bootstrap
 * stack (what `cdk deploy` checks too, but only after synthesizing and bundling).
 */
export async function checkBootstrap(
  target: RemoteTarget,
  account: string,
  qualifier: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Verdict> {
  const parameter = bootstrapVersionParameter(qualifier);
  const fix = cdkBootstrapCommand(target, account, qualifier);
  const ssm = new SSMClient(operatorClientConfig(target, env));
  let value: string | undefined;
  try {
    value = (await ssm.send(new GetParameterCommand({ Name: parameter }))).Parameter?.Value;
  } catch (error) {
    const info = awsErrorInfo(error);
    if (info.name === 'ParameterNotFound')
      return failed(`${target.region} is not bootstrapped for the CDK (no SSM parameter ${parameter})`, fix);
    if (info.name === 'AccessDeniedException')
      return failed(
        `cannot read ${parameter}: ${maskIdentifiers(describeAwsError(info))}`,
        `grant the operator ssm:GetParameter on arn:${regionPartition(target.region)?.id ?? 'aws'}:ssm:${target.region}:${account}:parameter${parameter}`,
      );
    return failed(`cannot read ${parameter}: ${maskIdentifiers(describeAwsError(info))}`);
  } finally {
    ssm.destroy();
  }
  const version = Number(value);
  if (value === undefined || !Number.isInteger(version))
    return failed(`${parameter} holds "${value ?? ''}", not a bootstrap version number`, fix);
  if (version < minimumBootstrapVersion)
    return failed(
      `bootstrap version ${version} is older than ${minimumBootstrapVersion}, the oldest the installed aws-cdk-lib deploys onto`,
      fix,
    );
  return ok(
    `bootstrap version ${version} (qualifier ${qualifier}; ${minimumBootstrapVersion} or newer needed)`,
  );
}
