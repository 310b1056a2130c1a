import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import type { CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { bundleFunctions } from '../../infra/build/bundle-functions.ts';
import { repositoryRoot } from '../../infra/build/bundle-layout.ts';
import { runCdk as runOperatorCdk } from '../../cli/aws/cdk-cli.ts';
import { contextKeys } from '../../infra/config/node-settings.ts';
import { addNodeStack, bundlesDirContextKey } from '../../infra/node-app.ts';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import type { AgentOsNodeStack } from '../../infra/stacks/agentos-node-stack.ts';

/** A CloudFormation resource as it appears in a synthesized template. */
export type TemplateResource = {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
};

let bundlesDir: Promise<string> | undefined;

/** Bundles every function once per test file, into a temporary directory outside the repository. */
export function testBundlesDir(): Promise<string> {
  bundlesDir ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentos-bundles-'));
    await bundleFunctions({ outDir: dir });
    return dir;
  })();
  return bundlesDir;
}

/** The context cdk.json gives the CLI (feature flags, node id), so in-process synthesis matches it. */
export async function cdkJsonContext(): Promise<Record<string, unknown>> {
  const cdkJson = JSON.parse(await readFile(join(repositoryRoot, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

/** A Secrets Manager ARN standing for the node's signing key set in synthesized stacks. */
export const sampleSigningKeySecretArn =
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:agentos/main/service-signing-key-AbCdEf';

/** The public JWKS of a sample node key, as `agentos up` passes it. */
export const sampleNodeJwks = {
  keys: [
    {
      kty: 'EC',
      crv: 'P-256',
      x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
      y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
      kid: 'main-sample',
      alg: 'ES256',
      use: 'sig',
    },
  ],
};

/** The context naming the node's keys, which every synthesis needs (`agentos up` creates them). */
export function nodeKeyContext(): Record<string, string> {
  return {
    [contextKeys.serviceSigningKeySecretArn]: sampleSigningKeySecretArn,
    [contextKeys.nodeJwks]: JSON.stringify(sampleNodeJwks),
  };
}

/** Synthesizes the node stack in-process, as `cdk synth` would, with extra context on top of cdk.json's. */
export async function synthesizeNodeStack(
  context: Record<string, unknown> = {},
): Promise<{ stack: AgentOsNodeStack; template: Template }> {
  const app = new App({
    context: {
      ...(await cdkJsonContext()),
      [bundlesDirContextKey]: await testBundlesDir(),
      ...nodeKeyContext(),
      ...context,
    },
    outdir: await mkdtemp(join(tmpdir(), 'agentos-cdk-out-')),
  });
  const stack = addNodeStack(app);
  return { stack, template: Template.fromStack(stack) };
}

/** The template's resources of one type, by logical id. */
export function resourcesOfType(template: Template, type: string): Record<string, TemplateResource> {
  return template.findResources(type) as Record<string, TemplateResource>;
}

/** The one resource of a type whose property `key` equals `value`; throws unless exactly one matches. */
export function resourceWhere(
  template: Template,
  type: string,
  key: string,
  value: unknown,
): { logicalId: string; resource: TemplateResource } {
  const matches = Object.entries(resourcesOfType(template, type)).filter(
    ([, resource]) => resource.Properties?.[key] === value,
  );
  if (matches.length !== 1) {
    throw new Error(`Expected one ${type} with ${key}=${JSON.stringify(value)}, found ${matches.length}`);
  }
  const [logicalId, resource] = matches[0]!;
  return { logicalId, resource };
}

/** The template's Lambda function resource of one of the node's functions. */
export function functionResource(
  stack: AgentOsNodeStack,
  template: Template,
  name: FunctionName,
): TemplateResource {
  const logicalId = stack.getLogicalId(stack.functions[name].node.defaultChild as CfnResource);
  const resource = resourcesOfType(template, 'AWS::Lambda::Function')[logicalId];
  if (resource === undefined) throw new Error(`No function resource for ${name}`);
  return resource;
}

/** A function resource's environment variables: literal strings, or CloudFormation expressions. */
export function environmentOf(resource: TemplateResource): Record<string, unknown> {
  const environment = resource.Properties?.['Environment'] as
    { Variables?: Record<string, unknown> } | undefined;
  return environment?.Variables ?? {};
}

/** The CDK CLI runner the operator commands use, without instance-metadata lookups (tests run off EC2). */
export function runCdk(args: string[], options: Parameters<typeof runOperatorCdk>[1] = {}) {
  return runOperatorCdk(args, { ...options, env: { AWS_EC2_METADATA_DISABLED: 'true', ...options.env } });
}
