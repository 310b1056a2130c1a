import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { federationConfigFromEnv } from '../../../functions/orchestrator/federation/federation-config.ts';
import { agentosRelease } from '../../../functions/orchestrator/federation/release.ts';
import { ConfigurationError } from '../../../functions/shared/errors/agentos-error.ts';

describe('federationConfigFromEnv', () => {
  it('returns the node id of the table name when AGENTOS_NODE_ID is unset', () => {
    expect(federationConfigFromEnv('agentos-west-2', {})).toMatchObject({
      nodeId: 'west-2',
      models: { tiers: [], backends: [] },
      forwardedRunsPerMinute: 60,
      eventRetentionDays: 30,
    });
  });

  it('returns AGENTOS_NODE_ID over the table name', () => {
    expect(federationConfigFromEnv('agentos-west-2', { AGENTOS_NODE_ID: 'edge' }).nodeId).toBe('edge');
  });

  it('throws when the node id is malformed or cannot be found', () => {
    expect(() => federationConfigFromEnv('agentos-x', { AGENTOS_NODE_ID: 'Not_An_Id' })).toThrow(
      /AGENTOS_NODE_ID/,
    );
    expect(() => federationConfigFromEnv('my-table', {})).toThrow(ConfigurationError);
  });

  it('throws naming the variable when the advertised models are not valid', () => {
    expect(() =>
      federationConfigFromEnv('agentos-a', { AGENTOS_FEDERATION_MODELS: '{"tiers":[{"name":"X Y"}]}' }),
    ).toThrow(/AGENTOS_FEDERATION_MODELS/);
  });
});

describe('agentosRelease', () => {
  it('is the version package.json names', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(agentosRelease).toBe(pkg.version);
  });
});
