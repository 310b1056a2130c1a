import { optionalEnv } from '../../functions/shared/config/env.ts';
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';
import { createTokenIssuer } from '../../functions/shared/auth/token-issuer.ts';
import { provisionNode } from '../../infra/local/provision-emulator.ts';
import { AgentOsClient } from '../client/agentos-client.ts';
import { timeThreeStepRun } from '../client/three-step-run.ts';
import { configureEmulator, startMoto, waitForHttp } from '../local/emulator.ts';
import { nodePaths, readLocalState, writeLocalState } from '../local/local-state.ts';
import type { LocalState } from '../local/local-state.ts';
import type { NodeSettingsFile } from '../local/node-main.ts';
import { ensureNodeKeys } from '../local/node-keys.ts';
import { isAlive, stopProcess } from '../local/processes.ts';
import { projectRoot, reportsDir } from '../local/project-paths.ts';
import { seedTenantCatalog } from '../local/seed.ts';
import { localNodeDefaults } from '../local/local-defaults.ts';
import { newOperatorReport, reportPaths, writeOperatorReport } from '../reports/operator-report.ts';
import { PhaseRunner } from '../reports/phase-runner.ts';
import { timedCheck } from '../reports/checks.ts';

/** Options of `agentos up --local`. */
export type UpLocalOptions = { nodeId: string; portBase: number; out?: NodeJS.WritableStream };

async function portFree(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
    return false;
  } catch (error) {
    return (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
  }
}

async function waitForFile(path: string, timeoutMs: number, alive: () => boolean): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path)) return readFile(path, 'utf8');
    if (!alive()) throw new Error('the node process exited during start-up');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the node did not become ready within ${timeoutMs} ms`);
}

/**
 * `agentos up --local`: preflight → boot (emulator, resources, node process) → seed (default tenant,
 * tenant admin, sample agent and tool, model policy) → wire → validate (health, smoke run) → report.
 * Returns the exit code: 0 for a green report.
 */
export async function upLocal(options: UpLocalOptions): Promise<number> {
  const out = options.out ?? process.stdout;
  const runner = new PhaseRunner(out);
  const paths = nodePaths(options.nodeId);
  const defaults = localNodeDefaults(options.nodeId, options.portBase);
  const report = newOperatorReport('up', options.nodeId, 'SMTP alerting is not configured in local mode yet');
  report.phases = runner.phases;
  const started: { emulatorPid?: number | undefined; nodePid?: number | undefined } = {};
  let ownsLock = false;
  try {
    await runner.run('preflight', async (note) => {
      const [major] = process.versions.node.split('.').map(Number);
      if ((major ?? 0) < 22)
        throw new Error(
          `Node ${process.versions.node} is too old; AgentOS needs Node 22 or newer (24 recommended)`,
        );
      const existing = await readLocalState(options.nodeId);
      if (existing !== undefined && isAlive(existing.node.pid)) {
        throw new Error(
          `local node "${options.nodeId}" is already running (orchestrator ${existing.node.orchestrator_url}); ` +
            'see `agentos status --local` or stop it with `agentos nuke --local`',
        );
      }
      await mkdir(paths.dir, { recursive: true });
      try {
        await writeFile(paths.lock, String(process.pid), { flag: 'wx' });
      } catch {
        const holder = Number(
          await readFile(paths.lock, 'utf8').catch((error: unknown) => {
            // The holder finished and removed its lock in between: nobody holds it now.
            if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '0';
            throw error;
          }),
        );
        if (isAlive(holder))
          throw new Error(
            `another \`agentos up --local\` (pid ${holder}) is starting node "${options.nodeId}"`,
          );
        await writeFile(paths.lock, String(process.pid));
      }
      ownsLock = true;
      const busy: number[] = [];
      for (const port of [
        defaults.orchestratorPort,
        defaults.modelPolicyPort,
        ...(defaults.externalEmulator ? [] : [defaults.emulatorPort]),
      ]) {
        if (!(await portFree(port))) busy.push(port);
      }
      if (busy.length > 0) throw new Error(`ports ${busy.join(', ')} are in use; pick another --port-base`);
      note(
        `node ${process.versions.node}, emulator ${defaults.externalEmulator ? defaults.emulatorEndpoint : 'moto (managed)'}`,
      );
    });

    const boot = await runner.run('boot', async (note) => {
      let endpoint = defaults.emulatorEndpoint;
      if (defaults.externalEmulator) {
        await waitForHttp(endpoint, 10_000);
        await configureEmulator(endpoint);
      } else {
        const emulator = await startMoto({
          port: defaults.emulatorPort,
          logFile: paths.emulatorLog,
          detached: true,
        });
        started.emulatorPid = emulator.pid;
        endpoint = emulator.endpoint;
      }
      note(`emulator at ${endpoint}`);
      const aws = { region: defaults.region, endpoint, maxAttempts: 3 };
      const resources = await provisionNode(options.nodeId, aws);
      note(`provisioned table ${resources.tableName}, step queue, state machine`);
      const keys = await ensureNodeKeys(paths.keys);
      const settings: NodeSettingsFile = {
        nodeId: options.nodeId,
        host: '127.0.0.1',
        orchestratorPort: defaults.orchestratorPort,
        modelPolicyPort: defaults.modelPolicyPort,
        awsEndpoint: endpoint,
        region: defaults.region,
        keysDir: paths.keys,
        issuer: defaults.issuer,
        audience: defaults.audience,
        resources,
        functionEnv: defaults.functionEnv,
      };
      await writeFile(paths.settings, JSON.stringify(settings, null, 2));
      await rm(paths.ready, { force: true });
      const log = openSync(paths.nodeLog, 'a');
      const child = spawn(
        process.execPath,
        [join(projectRoot, 'cli/local/node-main.ts'), paths.settings, paths.ready],
        {
          detached: true,
          stdio: ['ignore', log, log],
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: optionalEnv('AWS_ACCESS_KEY_ID', 'test'),
            AWS_SECRET_ACCESS_KEY: optionalEnv('AWS_SECRET_ACCESS_KEY', 'test'),
          },
        },
      );
      child.unref();
      started.nodePid = child.pid;
      const ready = JSON.parse(await waitForFile(paths.ready, 60_000, () => isAlive(child.pid))) as {
        orchestrator_url: string;
        model_policy_url: string;
      };
      note(`node process ${child.pid} serving the orchestrator at ${ready.orchestrator_url}`);
      const state: LocalState = {
        node_id: options.nodeId,
        started_at: report.started_at,
        emulator: {
          endpoint,
          pid: started.emulatorPid ?? null,
          managed: !defaults.externalEmulator,
          log_file: defaults.externalEmulator ? null : paths.emulatorLog,
        },
        node: {
          pid: child.pid ?? null,
          orchestrator_url: ready.orchestrator_url,
          model_policy_url: ready.model_policy_url,
          log_file: paths.nodeLog,
        },
        resources: {
          table: resources.tableName,
          step_queue_url: resources.stepQueueUrl,
          state_machine_arn: resources.stateMachineArn,
        },
        seeded: {},
      };
      await writeLocalState(state);
      report.endpoints = {
        orchestrator: ready.orchestrator_url,
        model_policy: ready.model_policy_url,
        aws_emulator: endpoint,
        table: resources.tableName,
        step_queue: resources.stepQueueUrl,
        state_machine: resources.stateMachineArn,
      };
      return { state, aws, keys };
    });

    const issuer = createTokenIssuer({
      jwk: boot.keys.signingKey,
      issuer: defaults.issuer,
      audience: defaults.audience,
    });
    const tenantToken = await issuer.issue({
      tenantId: defaults.tenantId,
      subject: defaults.adminPrincipal,
      scopes: [...defaultTenantScopes],
      ttlSeconds: 600,
    });
    const operatorToken = await issuer.issue({
      tenantId: defaults.operatorTenantId,
      subject: 'operator@local',
      scopes: [scopes.operator],
      ttlSeconds: 600,
    });

    await runner.run('seed', async (note) => {
      const seeded = await seedTenantCatalog({
        aws: boot.aws,
        tableName: boot.state.resources.table,
        tenantId: defaults.tenantId,
        adminPrincipal: defaults.adminPrincipal,
      });
      const policy = await fetch(
        `${boot.state.node.model_policy_url}/v1/admin/tenants/${defaults.tenantId}/model-policy`,
        {
          method: 'PUT',
          headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(defaults.tenantModelPolicy),
        },
      );
      if (!policy.ok)
        throw new Error(
          `setting the tenant's model policy answered ${policy.status}: ${await policy.text()}`,
        );
      report.seeded = {
        tenant: seeded.tenantId,
        tenant_admin: seeded.adminPrincipal,
        sample_agent: seeded.agentId,
        sample_tool: seeded.toolId,
      };
      await writeLocalState({ ...boot.state, seeded: report.seeded });
      note(
        `tenant ${seeded.tenantId}, admin ${seeded.adminPrincipal}, agent ${seeded.agentId}, tool ${seeded.toolId}`,
      );
    });

    await runner.run('wire', async (note) => {
      report.health.push(
        await timedCheck('orchestrator health', async () => {
          const response = await fetch(`${boot.state.node.orchestrator_url}/v1/health`);
          if (!response.ok) throw new Error(`answered ${response.status}`);
          return 'ok';
        }),
        await timedCheck('model policy health', async () => {
          const response = await fetch(`${boot.state.node.model_policy_url}/v1/health`);
          if (!response.ok) throw new Error(`answered ${response.status}`);
          return 'ok';
        }),
        await timedCheck('model policy lists entitled models', async () => {
          const response = await fetch(`${boot.state.node.model_policy_url}/v1/models`, {
            headers: { authorization: `Bearer ${tenantToken}` },
          });
          const body = (await response.json()) as { data?: { id: string }[] };
          if (!response.ok) throw new Error(`answered ${response.status}`);
          return (body.data ?? []).map((m) => m.id).join(', ');
        }),
      );
      const failed = report.health.filter((check) => check.outcome !== 'ok');
      if (failed.length > 0)
        throw new Error(failed.map((check) => `${check.name}: ${check.detail}`).join('; '));
      note(`${report.health.length} health checks passed`);
    });

    await runner.run('validate', async (note) => {
      const client = new AgentOsClient(boot.state.node.orchestrator_url, tenantToken);
      const started = Date.now();
      const check = await timedCheck('three-step run to run.completed over SSE', async () => {
        const run = await timeThreeStepRun(client, report.seeded['sample_agent'] ?? 'sample-agent', 'smoke');
        const gapless = run.sequences.every((s, i) => s === i + 1);
        if (run.status !== 'completed') throw new Error(`run ${run.runId} ended ${run.status}`);
        if (!gapless) throw new Error(`run ${run.runId} streamed sequences ${run.sequences.join(',')}`);
        return `run ${run.runId}: ${run.eventTypes.length} events, first event ${Math.round(run.firstEventMs)} ms, completed ${Math.round(run.terminalMs)} ms`;
      });
      check.duration_ms = Date.now() - started;
      report.smoke.push(check);
      if (check.outcome !== 'ok') throw new Error(check.detail);
      note(check.detail);
    });
    report.outcome = 'green';
  } catch (error) {
    report.notes.push(`Stopped: ${error instanceof Error ? error.message : String(error)}`);
    if (report.phases.some((p) => p.name === 'boot' && p.outcome === 'failed')) {
      await stopProcess(started.nodePid);
      await stopProcess(started.emulatorPid);
    }
    if (existsSync(paths.nodeLog)) report.notes.push(`Node log: ${paths.nodeLog}`);
  } finally {
    if (ownsLock) await rm(paths.lock, { force: true });
  }
  runner.skip('alert test', report.alert_test.detail);
  report.finished_at = new Date().toISOString();
  runner.phases.push({
    name: 'report',
    outcome: 'ok',
    duration_ms: 0,
    detail: reportPaths(reportsDir(), report).markdown,
  });
  const written = await writeOperatorReport(reportsDir(), report);
  out.write(
    `\n${report.outcome === 'green' ? '✔ AgentOS local node is up' : '✘ agentos up failed'} — report: ${written.markdown}\n`,
  );
  if (report.outcome === 'green') {
    out.write(
      `  orchestrator: ${report.endpoints['orchestrator']}\n  model policy: ${report.endpoints['model_policy']}\n`,
    );
    out.write(`  get a token:  npm run agentos -- token --local --tenant ${defaults.tenantId}\n`);
  }
  return report.outcome === 'green' ? 0 : 1;
}
