import { describe, expect, it } from 'vitest';
import { NodeConfigError, parseNodeConfig } from '../../cli/config/node-config.ts';
import { stackContext } from '../../cli/commands/remote/deploy.ts';
import type { RemoteContext } from '../../cli/commands/remote/remote-context.ts';
import { localNodeConfig } from '../../cli/local/local-target.ts';
import { contextKeys } from '../../infra/config/node-settings.ts';
import { normalizeAllowedHost } from '../../functions/shared/net/address-policy.ts';

const parse = (value: unknown) => parseNodeConfig(value, 'agentos.config.json', '/tmp');

/** The parts of a deploy context `stackContext` reads. */
function deployContext(config: ReturnType<typeof parse>, onAws = false): RemoteContext {
  return {
    config,
    target: onAws
      ? { kind: 'aws', stage: 'dev', region: 'us-east-1' }
      : { kind: 'endpoint', stage: 'dev', region: 'us-east-1', endpoint: 'http://localhost:1' },
    paths: { bundles: '/tmp/bundles' },
  } as unknown as RemoteContext;
}

const keys = {
  secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf',
  jwks: { keys: [] },
  created: false,
  kids: [],
};

describe('tools.allowed_hosts in the node configuration', () => {
  it('returns an empty allow-list by default', () => {
    expect(parse({}).tools).toEqual({ allowed_hosts: [] });
  });

  it('returns the entries as the step worker compares them: lower case, canonical addresses', () => {
    expect(
      parse({ tools: { allowed_hosts: ['127.0.0.1:8799', '[::1]:8799', 'Tools.Internal:443'] } }).tools,
    ).toEqual({ allowed_hosts: ['127.0.0.1:8799', '[::1]:8799', 'tools.internal:443'] });
  });

  it.each([
    ['http://127.0.0.1:8799', 'write the host without the scheme'],
    ['127.0.0.1:8799/path', 'no paths'],
    ['*.internal', 'no paths, wildcards'],
    ['::1', 'write an IPv6 address in brackets'],
    ['127.0.0.1:0', 'the port is a number 1-65535'],
    ['127.0.0.1:70000', 'the port is a number 1-65535'],
    ['127.1:80', 'write the host as 127.0.0.1'],
    ['[0:0::1]:80', 'write the host as [::1]'],
    ['under_score:80', 'a host is an IPv4 address or a DNS name'],
    ['127.0.0.1', 'name the port'],
    ['169.254.169.254:80', 'link-local and metadata addresses can never be allowed'],
    ['', 'it is empty'],
  ])('throws naming the field and the fix for %j', (entry, fix) => {
    expect(() => parse({ tools: { allowed_hosts: ['localhost:8080', entry] } })).toThrow(NodeConfigError);
    expect(() => parse({ tools: { allowed_hosts: ['localhost:8080', entry] } })).toThrow(
      `agentos.config.json is invalid at tools.allowed_hosts.1: ${JSON.stringify(entry)} is not a host:port (${fix}`,
    );
  });

  it('throws naming a misspelt field of tools', () => {
    expect(() => parse({ tools: { allowed_host: ['localhost:8080'] } })).toThrow(
      'invalid at tools: Unrecognized key: "allowed_host"',
    );
  });

  it('throws when an AWS stage would open private destinations to every tenant', () => {
    const config = parse({ tools: { allowed_hosts: ['10.0.0.5:443'] } });
    expect(() => stackContext(deployContext(config, true), keys)).toThrow(/local and emulator nodes/);
    expect(stackContext(deployContext(parse({}), true), keys)).not.toHaveProperty(
      contextKeys.toolAllowedHosts,
    );
  });

  it('passes the allow-list to the stack as context, and nothing when it is empty', () => {
    const allowing = stackContext(
      deployContext(parse({ tools: { allowed_hosts: ['127.0.0.1:8799', 'tools.internal:443'] } })),
      keys,
    );
    expect(allowing[contextKeys.toolAllowedHosts]).toBe('127.0.0.1:8799,tools.internal:443');
    expect(Object.keys(stackContext(deployContext(parse({})), keys))).not.toContain(
      contextKeys.toolAllowedHosts,
    );
  });

  it('deploys a local node with the tools section of the configuration and its own defaults', () => {
    const config = localNodeConfig({ allowed_hosts: ['127.0.0.1:8799'] });
    expect(config.tools.allowed_hosts).toEqual(['127.0.0.1:8799']);
    expect(config.retention.destroy_data_with_stack).toBe(true);
    expect(localNodeConfig().tools.allowed_hosts).toEqual([]);
  });

  it('returns entries that the step worker matches against URLs as they parse', () => {
    for (const url of ['http://127.0.0.1:8799/x', 'http://[::1]:8799/x', 'http://TOOLS.internal:8799/x']) {
      const { hostname, port } = new URL(url);
      expect(normalizeAllowedHost(`${hostname}:${port}`)).toBe(`${hostname}:${port}`);
    }
  });
});

describe('cors in the node configuration', () => {
  it('returns CORS off by default, and passes nothing to the stack', () => {
    expect(parse({}).cors).toEqual({ allowed_origins: [], allow_credentials: false });
    expect(Object.keys(stackContext(deployContext(parse({})), keys))).not.toContain(
      contextKeys.corsAllowedOrigins,
    );
  });

  it('passes the listed origins and the credentials flag to the stack as context', () => {
    const config = parse({
      cors: {
        allowed_origins: ['https://app.example.com', 'http://localhost:3000'],
        allow_credentials: true,
      },
    });
    const context = stackContext(deployContext(config, true), keys);
    expect(context[contextKeys.corsAllowedOrigins]).toBe('https://app.example.com,http://localhost:3000');
    expect(context[contextKeys.corsAllowCredentials]).toBe('true');
  });

  it('throws naming the field for an origin with a path', () => {
    expect(() => parse({ cors: { allowed_origins: ['https://app.example.com/app'] } })).toThrow(/cors/);
  });
});
