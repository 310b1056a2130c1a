import { describe, expect, it } from 'vitest';
import { hostedVariables } from '../../cli/aws/artifact-host.ts';
import { NodeConfigSchema } from '../../cli/config/node-config.ts';
import type { RemoteContext } from '../../cli/commands/remote/remote-context.ts';
import { nodeProcessSettings, otlpTracesUrlOf } from '../../cli/local/host-process.ts';
import { localNodeDefaults } from '../../cli/local/local-defaults.ts';

const collector = 'http://127.0.0.1:4318/v1/traces';

/** The deploy context `up --local` hands the node process: a stack on an emulator. */
const deploy = {
  target: { kind: 'endpoint', endpoint: 'http://127.0.0.1:4566', region: 'us-east-1', stage: 'otlp' },
  client: { credentials: { accessKeyId: 'test', secretAccessKey: 'test' } },
  stackName: 'AgentOS-otlp',
} as unknown as RemoteContext;

const ports = { orchestratorPort: 1, modelPolicyPort: 2, cacheDir: '/tmp/c', inFlightFile: '/tmp/f' };

describe('agentos up --local and the OTLP traces endpoint', () => {
  it("returns the operator's AGENTOS_OTLP_TRACES_URL over the configuration's observability.otlp_traces_url", () => {
    const defaults = localNodeDefaults('otlp', 8800, { AGENTOS_OTLP_TRACES_URL: collector });
    expect(otlpTracesUrlOf(defaults, { otlp_traces_url: 'http://elsewhere:4318/v1/traces' })).toBe(collector);
  });

  it('returns the configured endpoint when the environment sets none, and none when neither does', () => {
    const defaults = localNodeDefaults('otlp', 8800, {});
    const config = NodeConfigSchema.parse({ observability: { otlp_traces_url: collector } });
    expect(otlpTracesUrlOf(defaults, config.observability)).toBe(collector);
    expect(otlpTracesUrlOf(defaults, NodeConfigSchema.parse({}).observability)).toBeUndefined();
  });

  it("returns the node process's settings carrying the endpoint only when one is set", () => {
    expect(nodeProcessSettings(deploy, { ...ports, otlpTracesUrl: collector }).otlpTracesUrl).toBe(collector);
    expect(nodeProcessSettings(deploy, ports)).not.toHaveProperty('otlpTracesUrl');
  });

  it("returns the hosted functions' environment with AGENTOS_OTLP_TRACES_URL added to the deployed one", () => {
    const deployed = { AGENTOS_TABLE_NAME: 'table' };
    expect(hostedVariables(deployed, { otlpTracesUrl: collector })).toEqual({
      AGENTOS_TABLE_NAME: 'table',
      AGENTOS_OTLP_TRACES_URL: collector,
    });
    expect(hostedVariables(deployed, {})).toEqual(deployed);
  });

  it('throws when the configured endpoint is not an http(s) URL', () => {
    expect(() => NodeConfigSchema.parse({ observability: { otlp_traces_url: 'collector:4318' } })).toThrow();
    expect(() => hostedVariables({}, { otlpTracesUrl: 'not a url' })).toThrow(/AGENTOS_OTLP_TRACES_URL/);
  });
});
