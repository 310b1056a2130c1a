import {
  CloudFormationClient,
  DeleteStackCommand,
  DescribeStackResourcesCommand,
  GetTemplateCommand,
  waitUntilStackDeleteComplete,
} from '@aws-sdk/client-cloudformation';
import {
  CloudWatchLogsClient,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
  ResourceNotFoundException as LogGroupNotFound,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DeleteTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceNotFoundException as TableNotFound,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteSecretCommand,
  ResourceNotFoundException as SecretNotFound,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { nodeSecretNames } from '../../../infra/stacks/agentos-node-stack.ts';
import { describeStack } from '../../aws/status-stack.ts';
import { confirm } from '../confirm.ts';
import { stopHost } from './artifact-host-process.ts';
import { finishRemote } from './remote-phases.ts';
import { newRemoteContext } from './remote-context.ts';
import type { RemoteContext, RemoteOptions } from './remote-context.ts';

/** A resource the stack keeps when it is deleted (its template says `DeletionPolicy: Retain`). */
type Retained = { type: 'AWS::DynamoDB::Table' | 'AWS::Logs::LogGroup'; physicalId: string };

const TemplateSchema = z.object({
  Resources: z.record(z.string(), z.object({ Type: z.string(), DeletionPolicy: z.string().optional() })),
});

/** What deleting the stack destroys and what it retains, from the deployed template. */
async function plan(context: RemoteContext): Promise<{ destroyed: string[]; retained: Retained[] }> {
  const cloudFormation = new CloudFormationClient(context.client);
  try {
    const template = await cloudFormation.send(new GetTemplateCommand({ StackName: context.stackName }));
    const parsed = TemplateSchema.parse(JSON.parse(template.TemplateBody ?? '{}'));
    const { StackResources: resources = [] } = await cloudFormation.send(
      new DescribeStackResourcesCommand({ StackName: context.stackName }),
    );
    const destroyed: string[] = [];
    const retained: Retained[] = [];
    for (const resource of resources) {
      const declared = parsed.Resources[resource.LogicalResourceId ?? ''];
      const type = resource.ResourceType ?? declared?.Type ?? '?';
      const id = resource.PhysicalResourceId ?? resource.LogicalResourceId ?? '?';
      if (
        declared?.DeletionPolicy === 'Retain' &&
        (type === 'AWS::DynamoDB::Table' || type === 'AWS::Logs::LogGroup')
      )
        retained.push({ type, physicalId: id });
      else destroyed.push(`${type} ${id}`);
    }
    return { destroyed, retained };
  } finally {
    cloudFormation.destroy();
  }
}

/** Pages read when looking for a stage's earlier data: bounded, as every listing here. */
const maxListPages = 50;

/**
 * Data earlier deployments of the stage left behind (a `nuke` without `--delete-data`, then `up`),
 * found by the names CloudFormation gave it: `AgentOS-<stage>-<logical id><hash>-<suffix>`, and the
 * state machines' `/aws/vendedlogs/states/agentos-<stage>-{run-deadline,long-run}-<stack uuid>`. The patterns
 * are anchored on the exact stage, so `dev` never matches stage `dev-x`'s data.
 */
async function earlierRetained(context: RemoteContext): Promise<Retained[]> {
  const stage = context.target.stage;
  const table = new RegExp(`^AgentOS-${stage}-Table[0-9A-F]{8}-[A-Za-z0-9]+$`);
  const logGroup = new RegExp(`^AgentOS-${stage}-[A-Za-z]+Logs[0-9A-F]{8}-[A-Za-z0-9]+$`);
  const vended = new RegExp(
    `^/aws/vendedlogs/states/agentos-${stage}-(run-deadline|long-run)-[0-9a-f-]{36}$`,
  );
  const found: Retained[] = [];
  const db = new DynamoDBClient(context.client);
  const logs = new CloudWatchLogsClient(context.client);
  try {
    let start: string | undefined;
    for (let page = 0; page < maxListPages; page++) {
      const answer = await db.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
      for (const name of answer.TableNames ?? [])
        if (table.test(name)) found.push({ type: 'AWS::DynamoDB::Table', physicalId: name });
      start = answer.LastEvaluatedTableName;
      if (start === undefined) break;
    }
    for (const [prefix, pattern] of [
      [`AgentOS-${stage}-`, logGroup],
      [`/aws/vendedlogs/states/agentos-${stage}-run-deadline-`, vended],
      [`/aws/vendedlogs/states/agentos-${stage}-long-run-`, vended],
    ] as const) {
      let token: string | undefined;
      for (let page = 0; page < maxListPages; page++) {
        const answer = await logs.send(
          new DescribeLogGroupsCommand({ logGroupNamePrefix: prefix, nextToken: token }),
        );
        for (const group of answer.logGroups ?? [])
          if (group.logGroupName !== undefined && pattern.test(group.logGroupName))
            found.push({ type: 'AWS::Logs::LogGroup', physicalId: group.logGroupName });
        token = answer.nextToken;
        if (token === undefined) break;
      }
    }
    return found;
  } finally {
    db.destroy();
    logs.destroy();
  }
}

/** Deletes what the stack retained, and the node's signing keys: only with `--delete-data`. */
async function deleteData(context: RemoteContext, retained: Retained[]): Promise<string[]> {
  const deleted: string[] = [];
  const db = new DynamoDBClient(context.client);
  const logs = new CloudWatchLogsClient(context.client);
  const sm = new SecretsManagerClient(context.client);
  try {
    for (const resource of retained) {
      if (resource.type === 'AWS::DynamoDB::Table') {
        try {
          // Production tables are protected against deletion; --delete-data is the operator's "yes".
          await db.send(
            new UpdateTableCommand({ TableName: resource.physicalId, DeletionProtectionEnabled: false }),
          );
          await db.send(new DeleteTableCommand({ TableName: resource.physicalId }));
        } catch (error) {
          if (!(error instanceof TableNotFound)) throw error;
        }
      } else {
        await logs
          .send(new DeleteLogGroupCommand({ logGroupName: resource.physicalId }))
          .catch((error: unknown) => {
            if (!(error instanceof LogGroupNotFound)) throw error;
          });
      }
      deleted.push(`${resource.type} ${resource.physicalId}`);
    }
    const secret = nodeSecretNames(context.target.stage).serviceSigningKey;
    // Without a recovery window, so the next `up` can create the secret again at once.
    await sm
      .send(new DeleteSecretCommand({ SecretId: secret, ForceDeleteWithoutRecovery: true }))
      .catch((error: unknown) => {
        if (!(error instanceof SecretNotFound)) throw error;
      });
    deleted.push(`AWS::SecretsManager::Secret ${secret}`);
    return deleted;
  } finally {
    db.destroy();
    logs.destroy();
    sm.destroy();
  }
}

/**
 * `agentos nuke`: lists what the stage's deletion destroys and retains, asks (or takes `--yes`),
 * stops a local artifact host, deletes the stack, and with `--delete-data` the retained table and
 * log groups and the node's signing keys. The SES sender identity belongs to the account and stays.
 */
export async function nukeRemote(
  options: RemoteOptions & { yes: boolean; deleteData: boolean },
): Promise<number> {
  const context = await newRemoteContext('nuke', options);
  const { runner, report, out } = context;
  try {
    const cloudFormation = new CloudFormationClient(context.client);
    const state = await describeStack(cloudFormation, context.stackName).finally(() =>
      cloudFormation.destroy(),
    );
    const planned = state.deployed ? await plan(context) : { destroyed: [], retained: [] };
    const { destroyed } = planned;
    const known = new Set(planned.retained.map((r) => r.physicalId));
    const retained = [
      ...planned.retained,
      ...(await earlierRetained(context)).filter((r) => !known.has(r.physicalId)),
    ];
    const keys = nodeSecretNames(context.target.stage).serviceSigningKey;
    out.write(
      `Stage "${context.target.stage}" (${context.stackName}${state.deployed ? `, ${state.status}` : ', not deployed'}):\n`,
    );
    out.write(
      `  destroyed: ${destroyed.length} stack resources (functions, APIs, queues, state machine, roles)\n`,
    );
    const kept = [...retained.map((r) => `${r.type} ${r.physicalId}`), `AWS::SecretsManager::Secret ${keys}`];
    out.write(
      `  ${options.deleteData ? 'deleted too (--delete-data)' : 'retained (--delete-data deletes them)'}:\n`,
    );
    for (const item of kept) out.write(`    ${item}\n`);
    out.write(
      `  kept: the SES sender identity ${context.config.alerts.sender} (it belongs to the account)\n`,
    );
    report.notes.push(`Destroyed: ${destroyed.join(', ') || 'nothing deployed'}`);
    if (!options.yes) {
      const agreed = await confirm(
        `Delete stage "${context.target.stage}"${options.deleteData ? ' and its data' : ''}? [y/N] `,
      );
      if (!agreed) {
        out.write('Nothing was changed (confirm interactively or pass --yes).\n');
        report.notes.push('Refused: not confirmed (no --yes, no terminal answer).');
        return await finishRemote(context, { green: '', red: 'agentos nuke changed nothing' });
      }
    }
    await runner.run('stop artifact host', async () => `artifact host ${await stopHost(context)}`);
    if (state.deployed) {
      await runner.run('delete stack', async () => {
        const client = new CloudFormationClient(context.client);
        try {
          await client.send(new DeleteStackCommand({ StackName: context.stackName }));
          await waitUntilStackDeleteComplete(
            { client, maxWaitTime: 1800, minDelay: 2, maxDelay: 15 },
            { StackName: context.stackName },
          );
        } finally {
          client.destroy();
        }
        return `${context.stackName} deleted`;
      });
    } else runner.skip('delete stack', `${context.stackName} is not deployed`);
    if (options.deleteData) {
      const deleted = await runner.run('delete data', async () =>
        (await deleteData(context, retained)).join(', '),
      );
      report.notes.push(`Deleted data: ${deleted}`);
    } else {
      report.notes.push(`Retained: ${kept.join(', ')} (\`agentos nuke --delete-data\` removes them)`);
    }
    report.outcome = 'green';
  } catch (error) {
    report.notes.push(`Stopped: ${error instanceof Error ? error.message : String(error)}`);
  }
  return finishRemote(context, {
    green: `stage "${options.target.stage}" removed`,
    red: 'agentos nuke failed',
  });
}
