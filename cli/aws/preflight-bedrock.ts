import { BedrockClient, GetFoundationModelAvailabilityCommand } from '@aws-sdk/client-bedrock';
import { z } from 'zod';
import { awsErrorInfo, describeAwsError, isNotImplemented } from './preflight-aws-errors.ts';
import type { AwsErrorInfo } from './preflight-aws-errors.ts';
import type { BedrockModelEntry } from './preflight-catalog.ts';
import { failed, ok, skipped } from './preflight-check.ts';
import type { Verdict } from './preflight-check.ts';
import { awsCliCommand, maskIdentifiers } from './preflight-text.ts';
import { operatorClientConfig } from './target.ts';
import type { RemoteTarget } from './target.ts';

/**
 * The geography prefixes of Bedrock's cross-region inference profiles (`us.anthropic.…`): such a
 * profile serves the foundation model named after the prefix, whose access is what is checked.
 */
const inferenceProfilePrefix = /^(us|eu|apac|us-gov|global|jp|au|ca)\.(.+)$/;

/**
 * The foundation model whose access a catalog's model id depends on: the id itself, the model behind
 * a cross-region inference profile, or the id in a foundation-model ARN. Other ARNs (provisioned
 * throughput, custom models, application inference profiles) have no foundation model id to check.
 */
export function foundationModelId(modelId: string): { id: string; via?: string } | undefined {
  if (modelId.startsWith('arn:')) {
    const match = /^arn:[^:]+:bedrock:[^:]*:[^:]*:foundation-model\/(.+)$/.exec(modelId);
    return match === null ? undefined : { id: match[1]!, via: 'its ARN' };
  }
  const profile = inferenceProfilePrefix.exec(modelId);
  return profile === null ? { id: modelId } : { id: profile[2]!, via: `inference profile ${modelId}` };
}

/** The Bedrock console's model access page of a region. */
export function modelAccessConsoleUrl(region: string): string {
  return `https://${region}.console.aws.amazon.com/bedrock/home?region=${region}#/modelaccess`;
}

const AvailabilitySchema = z.object({
  agreementAvailability: z.object({ status: z.string(), errorMessage: z.string().optional() }).optional(),
  authorizationStatus: z.string().optional(),
  entitlementAvailability: z.string().optional(),
  regionAvailability: z.string().optional(),
});

/** The verdict on one model's availability answer. */
export function availabilityVerdict(
  entry: BedrockModelEntry,
  model: { id: string; via?: string },
  answer: z.infer<typeof AvailabilitySchema>,
  catalogFile: string,
  target: RemoteTarget,
): Verdict {
  const { region } = entry;
  const name = model.via === undefined ? model.id : `${model.id} (behind ${model.via})`;
  const accessPage = modelAccessConsoleUrl(region);
  if (answer.regionAvailability === 'NOT_AVAILABLE')
    return failed(
      `${name} is not offered in ${region}`,
      `set backends.${entry.backendId}.region in ${catalogFile} to a region that offers it, or use a cross-region inference profile id (us.…, eu.…) in models.${entry.ref}.model`,
    );
  if (answer.authorizationStatus === 'NOT_AUTHORIZED')
    return failed(
      `the account is not authorized to use ${name} in ${region} (an IAM policy or SCP denies it)`,
      `allow the model for the account (check its service control policies), then request access: ${accessPage}`,
    );
  if (answer.entitlementAvailability === 'NOT_AVAILABLE')
    return failed(`model access to ${name} is not granted in ${region}`, `request access: ${accessPage}`);
  const agreement = answer.agreementAvailability;
  if (agreement?.status === 'ERROR')
    return failed(
      `the model agreement for ${name} in ${region} is in error: ${agreement.errorMessage ?? 'no reason given'}`,
      `review the model's access in ${accessPage}`,
    );
  if (agreement?.status === 'NOT_AVAILABLE')
    return failed(
      `no offer agreement for ${name} is accepted in ${region}`,
      `${awsCliCommand({ ...target, region }, 'bedrock', 'list-foundation-model-agreement-offers', '--model-id', model.id)}, then ` +
        `${awsCliCommand({ ...target, region }, 'bedrock', 'create-foundation-model-agreement', '--model-id', model.id, '--offer-token', 'TOKEN')}`,
    );
  const pending = agreement?.status === 'PENDING' ? '; its agreement is still pending (usually minutes)' : '';
  return ok(`${name} is available in ${region}${pending}`);
}

type Answer = { answer: z.infer<typeof AvailabilitySchema> } | { error: AwsErrorInfo };

/** Checks Bedrock model access one catalog model at a time; `close` when every check is done. */
export type BedrockAccessChecker = { check(entry: BedrockModelEntry): Promise<Verdict>; close(): void };

/**
 * Checks with Bedrock's control plane that the account may use catalog models, each in the region
 * its backend calls. Models sharing an id and region are asked about once. An emulator that does not
 * implement the API gets its models skipped, saying so, never passed.
 */
export function bedrockAccessChecker(
  target: RemoteTarget,
  catalogFile: string,
  env: NodeJS.ProcessEnv = process.env,
): BedrockAccessChecker {
  const answers = new Map<string, Promise<Answer>>();
  const clients = new Map<string, BedrockClient>();
  const clientIn = (region: string): BedrockClient => {
    let client = clients.get(region);
    if (client === undefined) {
      client = new BedrockClient({ ...operatorClientConfig(target, env), region });
      clients.set(region, client);
    }
    return client;
  };
  const answerFor = (region: string, modelId: string): Promise<Answer> => {
    const key = `${region} ${modelId}`;
    let answer = answers.get(key);
    if (answer === undefined) {
      answer = clientIn(region)
        .send(new GetFoundationModelAvailabilityCommand({ modelId }))
        .then(
          (output): Answer => ({ answer: AvailabilitySchema.parse(output) }),
          (error: unknown): Answer => ({ error: awsErrorInfo(error) }),
        );
      answers.set(key, answer);
    }
    return answer;
  };
  return {
    async check(entry) {
      if (entry.ownCredentials)
        return skipped(
          `backend ${entry.backendId} calls Bedrock with credentials of its own, not the operator's account; its access shows at call time`,
        );
      const model = foundationModelId(entry.modelId);
      if (model === undefined)
        return skipped(`${entry.modelId} is an ARN of no foundation model; its access shows at call time`);
      const found = await answerFor(entry.region, model.id);
      if ('answer' in found) return availabilityVerdict(entry, model, found.answer, catalogFile, target);
      return errorVerdict(entry, model.id, found.error, catalogFile, target);
    },
    close() {
      for (const client of clients.values()) client.destroy();
    },
  };
}

function errorVerdict(
  entry: BedrockModelEntry,
  modelId: string,
  info: AwsErrorInfo,
  catalogFile: string,
  target: RemoteTarget,
): Verdict {
  const detail = maskIdentifiers(describeAwsError(info));
  if (target.kind === 'endpoint' && isNotImplemented(info))
    return skipped(
      `the emulator at ${target.endpoint} does not implement Bedrock's GetFoundationModelAvailability (${detail}); model access is checked against AWS only`,
    );
  if (info.name === 'ValidationException' || info.name === 'ResourceNotFoundException')
    return failed(
      `${modelId} is not a Bedrock foundation model in ${entry.region}: ${detail}`,
      `correct models.${entry.ref}.model (or backends.${entry.backendId}.region) in ${catalogFile}`,
    );
  if (info.name === 'AccessDeniedException')
    return failed(
      `the operator may not ask Bedrock about model access: ${detail}`,
      `grant the operator bedrock:GetFoundationModelAvailability, or check access by hand: ${modelAccessConsoleUrl(entry.region)}`,
    );
  return failed(`Bedrock's GetFoundationModelAvailability failed in ${entry.region}: ${detail}`);
}
