import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';
import { stopProcess } from '../local/processes.ts';
import { localTestAlert } from '../local/test-alert.ts';
import { reportsDir } from '../local/project-paths.ts';
import { finishOperatorReport } from '../reports/operator-report.ts';
import { boot } from './up-local/boot.ts';
import { validate, wire } from './up-local/checks.ts';
import { preflight } from './up-local/preflight.ts';
import { registerNodeTenants, seed } from './up-local/seed.ts';
import { newUpContext } from './up-local/up-context.ts';
import type { BootedNode, UpContext, UpLocalOptions } from './up-local/up-context.ts';

export type { UpLocalOptions } from './up-local/up-context.ts';

/** Short-lived tokens `up` itself uses: the tenant admin's (checks) and an operator's (policy seed). */
async function setupTokens(context: UpContext, booted: BootedNode) {
  const { defaults } = context;
  const issuer = booted.tokens;
  return {
    tenant: await issuer.issue({
      tenantId: defaults.tenantId,
      subject: defaults.adminPrincipal,
      scopes: [...defaultTenantScopes],
      ttlSeconds: 600,
    }),
    operator: await issuer.issue({
      tenantId: defaults.operatorTenantId,
      subject: 'operator@local',
      scopes: [scopes.operator],
      ttlSeconds: 600,
    }),
  };
}

/** Report: the written report's path, and a summary with the next command to try. */
async function finish(context: UpContext): Promise<number> {
  const { runner, report, out, defaults } = context;
  if (!runner.phases.some((phase) => phase.name === 'alert test'))
    runner.skip('alert test', report.alert_test.detail);
  const written = await finishOperatorReport(reportsDir(), report);
  const green = report.outcome === 'green';
  out.write(
    `\n${green ? '✔ AgentOS local node is up' : '✘ agentos up failed'} — report: ${written.markdown}\n`,
  );
  if (green) {
    out.write(
      `  orchestrator: ${report.endpoints['orchestrator']}\n  model policy: ${report.endpoints['model_policy']}\n  dashboard:    ${report.endpoints['orchestrator']}/dashboard\n`,
    );
    out.write(`  get a token:  npm run agentos -- token --local --tenant ${defaults.tenantId}\n`);
  }
  return green ? 0 : 1;
}

/**
 * `agentos up --local`: preflight → boot (emulator, `cdk bootstrap` and `cdk deploy` of the node
 * stack onto it, the node process serving the deployed functions) → seed (default tenant, tenant
 * admin, sample agent and tool, model policy) → wire → validate (health, smoke run) → report.
 * A stopped or crashed node whose emulator still holds its stack is resumed: same data, no re-seed,
 * and no deploy unless the checkout changed.
 * Returns the exit code: 0 for a green report.
 */
export async function upLocal(options: UpLocalOptions): Promise<number> {
  const context = newUpContext(options);
  const { runner, report, paths, started } = context;
  try {
    const resume = await runner.run('preflight', (note) => preflight(context, note));
    const booted = await runner.run('boot', (note) => boot(context, resume, note));
    const tokens = await setupTokens(context, booted);
    // Every up, resumed or not: a node from before tenants were registered gets them too.
    await registerNodeTenants(context, booted);
    // A node that died before its first seed finished has nothing to keep: seed it now.
    if (resume === undefined || Object.keys(resume.state.seeded).length === 0) {
      await runner.run('seed', (note) => seed(context, booted, tokens.operator, note));
    } else {
      report.seeded = { ...resume.state.seeded };
      runner.skip('seed', `resumed node "${options.nodeId}" keeps its data; nothing re-seeded`);
    }
    await runner.run('wire', (note) => wire(context, booted, tokens.tenant, note));
    await runner.run('validate', (note) => validate(context, booted, tokens.tenant, note));
    if (options.testAlert !== false) {
      await runner.run('alert test', async (note) => {
        report.alert_test = await localTestAlert(booted.state);
        if (report.alert_test.outcome !== 'ok') throw new Error(report.alert_test.detail);
        note(report.alert_test.detail);
      });
    }
    report.outcome = 'green';
  } catch (error) {
    report.notes.push(`Stopped: ${error instanceof Error ? error.message : String(error)}`);
    if (report.phases.some((p) => p.name === 'boot' && p.outcome === 'failed')) {
      await stopProcess(started.nodePid);
      await stopProcess(started.emulatorPid);
      await stopProcess(started.alertsPid);
    }
    if (existsSync(paths.nodeLog)) report.notes.push(`Node log: ${paths.nodeLog}`);
  } finally {
    if (context.ownsLock) await rm(paths.lock, { force: true });
  }
  return finish(context);
}
