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
  ResourceNotFoundException as LogGroupNotFound,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DeleteTableCommand,
  DynamoDBClient,
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
    const { destroyed, retained } = state.deployed ? await plan(context) : { destroyed: [], retained: [] };
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
