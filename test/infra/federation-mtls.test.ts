import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../infra/build/bundle-layout.ts';
import { contextKeys, nodeSettingsFromContext } from '../../infra/config/node-settings.ts';
import type { AgentOsNodeStack } from '../../infra/stacks/agentos-node-stack.ts';
import {
  environmentOf,
  functionResource,
  nodeKeyContext,
  resourcesOfType,
  resourceWhere,
  synthesizeNodeStack,
} from './node-template.ts';
import type { CfnResource } from 'aws-cdk-lib';

/**
 * Mutual TLS between peers on AWS (HLD §7.1), behind the configuration switch: off, the Orchestrator
 * is served on its execute-api endpoint; on, only on a custom domain whose clients must present a
 * certificate the S3 truststore vouches for, with the execute-api endpoint disabled.
 */
const cfnLint = join(repositoryRoot, '.toolchain', 'venv', 'bin', 'cfn-lint');

const mtls = {
  [contextKeys.federationMtlsDomainName]: 'agentos.example.com',
  [contextKeys.federationMtlsCertificateArn]:
    'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
  [contextKeys.federationMtlsTruststoreUri]: 's3://agentos-truststores/main/truststore.pem',
};

function nagFindings(stack: AgentOsNodeStack): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(stack)
      .violations.flatMap((violation) =>
        violation.violatingResources.map(
          (resource) => `${violation.ruleName} at ${resource.constructPath ?? '?'}`,
        ),
      ),
  );
}

function lint(template: Template): Promise<{ code: number; output: string }> {
  return (async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'agentos-cfn-lint-')), 'node.template.json');
    await writeFile(file, JSON.stringify(template.toJSON(), null, 2));
    return new Promise((resolve, reject) => {
      execFile(cfnLint, [file], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(error);
        else resolve({ code: typeof error?.code === 'number' ? error.code : 0, output: stdout + stderr });
      });
    });
  })();
}

const orchestratorApi = (template: Template) =>
  resourceWhere(template, 'AWS::ApiGateway::RestApi', 'Name', 'agentos-main-orchestrator').resource;
const modelPolicyApi = (template: Template) =>
  resourceWhere(template, 'AWS::ApiGateway::RestApi', 'Name', 'agentos-main-model-policy').resource;

describe('mutual TLS between peers, switched off (the default)', () => {
  let template: Template;
  beforeAll(async () => {
    ({ template } = await synthesizeNodeStack());
  });

  it('serves the Orchestrator on its execute-api endpoint, with no custom domain', () => {
    expect(resourcesOfType(template, 'AWS::ApiGateway::DomainName')).toEqual({});
    expect(orchestratorApi(template).Properties?.['DisableExecuteApiEndpoint']).toBeUndefined();
    expect(JSON.stringify(template.findOutputs('NodeIssuer'))).toContain('execute-api');
    expect(template.findOutputs('OrchestratorRegionalDomainName')).toEqual({});
  });
});

describe('mutual TLS between peers, switched on', () => {
  let stack: AgentOsNodeStack;
  let template: Template;
  beforeAll(async () => {
    ({ stack, template } = await synthesizeNodeStack(mtls));
  });

  it('serves the Orchestrator only on the custom domain, which demands a client certificate from the truststore', () => {
    const domains = Object.values(resourcesOfType(template, 'AWS::ApiGateway::DomainName'));
    expect(domains).toHaveLength(1);
    expect(domains[0]?.Properties).toMatchObject({
      DomainName: 'agentos.example.com',
      RegionalCertificateArn: mtls[contextKeys.federationMtlsCertificateArn],
      EndpointConfiguration: { Types: ['REGIONAL'] },
      SecurityPolicy: 'TLS_1_2',
      MutualTlsAuthentication: { TruststoreUri: 's3://agentos-truststores/main/truststore.pem' },
    });
    expect(Object.values(resourcesOfType(template, 'AWS::ApiGateway::BasePathMapping'))).toHaveLength(1);
    expect(orchestratorApi(template).Properties?.['DisableExecuteApiEndpoint']).toBe(true);
    // The step worker's calls to the Model Policy stay on its own endpoint, with their JWT.
    expect(modelPolicyApi(template).Properties?.['DisableExecuteApiEndpoint']).toBeUndefined();
  });

  it('names the custom domain as the node’s issuer, so tokens, JWKS and events URLs use it', () => {
    expect(template.findOutputs('NodeIssuer')['NodeIssuer']?.['Value']).toBe('https://agentos.example.com');
    expect(template.findOutputs('OrchestratorApiUrl')['OrchestratorApiUrl']?.['Value']).toBe(
      'https://agentos.example.com/',
    );
  });

  it('returns the domain’s regional target as an output, for the DNS record that points the domain at it', () => {
    const output = template.findOutputs('OrchestratorRegionalDomainName')['OrchestratorRegionalDomainName'];
    expect(JSON.stringify(output?.['Value'])).toContain('RegionalDomainName');
  });

  it('creates no IAM role or policy of its own for the domain or the truststore', async () => {
    const { template: off } = await synthesizeNodeStack();
    for (const type of ['AWS::IAM::Role', 'AWS::IAM::Policy'])
      expect(Object.keys(resourcesOfType(template, type)).sort()).toEqual(
        Object.keys(resourcesOfType(off, type)).sort(),
      );
  });

  it('passes cdk-nag and cfn-lint', async () => {
    expect(nagFindings(stack)).toEqual([]);
    expect(existsSync(cfnLint), `cfn-lint is not installed at ${cfnLint}`).toBe(true);
    expect(await lint(template)).toEqual({ code: 0, output: '' });
  });
});

describe('the mutual TLS settings', () => {
  const read = (extra: Record<string, string>) => (key: string) => ({ ...nodeKeyContext(), ...extra })[key];

  it('throws when only part of the switch is set, naming the settings that go together', () => {
    expect(() =>
      nodeSettingsFromContext(read({ [contextKeys.federationMtlsDomainName]: 'agentos.example.com' })),
    ).toThrow(/go together: set all three or none/);
  });

  it('throws on a truststore that is no S3 URI and on a certificate that is no ACM ARN', () => {
    expect(() =>
      nodeSettingsFromContext(
        read({ ...mtls, [contextKeys.federationMtlsTruststoreUri]: 'https://x/y.pem' }),
      ),
    ).toThrow(/must be s3:\/\/<bucket>\/<key>/);
    expect(() =>
      nodeSettingsFromContext(
        read({ ...mtls, [contextKeys.federationMtlsCertificateArn]: 'arn:aws:iam::1:x' }),
      ),
    ).toThrow(/must be an ACM certificate ARN/);
  });

  it('returns no mutual TLS unless it is set', () => {
    expect(nodeSettingsFromContext(read({})).federationMtls).toBeUndefined();
    expect(nodeSettingsFromContext(read(mtls)).federationMtls).toEqual({
      domainName: 'agentos.example.com',
      certificateArn: mtls[contextKeys.federationMtlsCertificateArn],
      truststore: { bucket: 'agentos-truststores', key: 'main/truststore.pem', version: undefined },
    });
  });
});

describe('the client certificate the node presents to peers', () => {
  const certificateArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:agentos/peer-cert-AbCdEf';
  const callers = ['orchestratorApi', 'orchestratorEvents', 'stepWorker'] as const;

  /** The functions whose role may read `arn`, and those whose environment names it. */
  function readersOf(stack: AgentOsNodeStack, template: Template, arn: string) {
    const functionNames = Object.keys(stack.functions) as (keyof AgentOsNodeStack['functions'])[];
    const policies = Object.values(resourcesOfType(template, 'AWS::IAM::Policy'));
    return {
      granted: functionNames.filter((name) => {
        const roleId = stack.getLogicalId(stack.functions[name].role?.node.defaultChild as CfnResource);
        return policies.some((policy) => {
          const text = JSON.stringify(policy.Properties);
          return (
            text.includes(`"${roleId}"`) &&
            text.includes(arn) &&
            text.includes('secretsmanager:GetSecretValue')
          );
        });
      }),
      configured: functionNames.filter(
        (name) =>
          environmentOf(functionResource(stack, template, name))[
            'AGENTOS_FEDERATION_CLIENT_CERT_SECRET_ARN'
          ] === arn,
      ),
    };
  }

  it('returns the secret to the functions that forward runs and push events, with read access for them only', async () => {
    const { stack, template } = await synthesizeNodeStack({
      [contextKeys.federationClientCertSecretArn]: certificateArn,
    });
    expect(readersOf(stack, template, certificateArn)).toEqual({
      granted: [...callers],
      configured: [...callers],
    });
  });

  it('returns no certificate and no grant unless it is set', async () => {
    const { stack, template } = await synthesizeNodeStack();
    for (const name of callers)
      expect(environmentOf(functionResource(stack, template, name))).not.toHaveProperty(
        'AGENTOS_FEDERATION_CLIENT_CERT_SECRET_ARN',
      );
    expect(JSON.stringify(template.toJSON())).not.toContain('peer-cert');
  });

  it('throws on a secret ARN that is not complete', () => {
    expect(() =>
      nodeSettingsFromContext(
        (key) =>
          ({ ...nodeKeyContext(), [contextKeys.federationClientCertSecretArn]: 'agentos/peer-cert' })[key],
      ),
    ).toThrow(/agentos:federationClientCertSecretArn must be a complete Secrets Manager secret ARN/);
  });
});
