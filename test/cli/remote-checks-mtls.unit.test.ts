import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPhases } from '../../cli/commands/remote/remote-phases.ts';
import type { RemoteContext } from '../../cli/commands/remote/remote-context.ts';
import { parseNodeConfig } from '../../cli/config/node-config.ts';
import { newOperatorReport } from '../../cli/reports/operator-report.ts';
import { PhaseRunner } from '../../cli/reports/phase-runner.ts';

/**
 * The checks `agentos up | redeploy | validate` run on a deployed node whose Orchestrator sits behind
 * mutual TLS: the CLI holds no client certificate, so it leaves the Orchestrator's checks out and says
 * why, and still checks the Model Policy (a local server stands in for it; the Orchestrator's URL
 * answers nothing, as a TLS handshake without a certificate would).
 */
let modelPolicy: Server;
let modelPolicyUrl: string;
const asked: string[] = [];

beforeAll(async () => {
  modelPolicy = createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    res.setHeader('content-type', 'application/json');
    if (req.url === '/v1/models') return res.end(JSON.stringify({ data: [{ id: 'local/scripted' }] }));
    if (req.url === '/v1/policy/check') return res.end(JSON.stringify({ allowed: true }));
    res.end('{}');
  });
  await new Promise<void>((resolve) => modelPolicy.listen(0, '127.0.0.1', resolve));
  modelPolicyUrl = `http://127.0.0.1:${(modelPolicy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => modelPolicy.close(resolve));
});

function contextWith(federation: Record<string, unknown>): RemoteContext {
  const out = new Writable({ write: (_chunk, _encoding, done) => done() });
  const report = newOperatorReport('validate', 'main', 'not part of this command');
  const runner = new PhaseRunner(out);
  report.phases = runner.phases;
  return {
    config: parseNodeConfig({ federation }, 'a test config', process.cwd()),
    out,
    runner,
    report,
  } as unknown as RemoteContext;
}

describe('the checks of a node behind mutual TLS', () => {
  it('returns green with the Model Policy checked and the Orchestrator’s checks left out, saying why', async () => {
    const context = contextWith({
      mtls: {
        domain_name: 'agentos.example.com',
        certificate_arn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc',
        truststore_uri: 's3://agentos-truststores/main/truststore.pem',
      },
    });
    await checkPhases(
      context,
      { orchestrator: 'https://127.0.0.1:9/', modelPolicy: modelPolicyUrl },
      { tenant: 't', operator: 'o', activeKid: 'k1' },
    );
    expect(context.runner.phases.map((phase) => [phase.name, phase.outcome])).toEqual([
      ['wire', 'ok'],
      ['validate', 'ok'],
    ]);
    expect(context.report.health.map((check) => check.name)).toEqual([
      'model policy health',
      'model policy lists entitled models',
    ]);
    expect(asked).toContain('POST /v1/policy/check');
    expect(context.report.notes.join('\n')).toContain('mutual TLS on agentos.example.com');
    expect(context.report.notes.join('\n')).toContain('OrchestratorRegionalDomainName');
  });
});
