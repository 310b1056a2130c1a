import {
  AccessDeniedException,
  BedrockRuntimeServiceException,
  ConflictException,
  InternalServerException,
  ModelErrorException,
  ModelNotReadyException,
  ModelStreamErrorException,
  ModelTimeoutException,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  ServiceUnavailableException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { ProviderError } from '../ports/model-provider-port.ts';
import type { ProviderFailureKind } from '../ports/model-provider-port.ts';
import { failureKindOfStatus, upstreamMessage } from './upstream-failure.ts';

/**
 * The ProviderError for whatever a Bedrock call threw. Modeled exceptions map by class; others the SDK
 * raises as the service's base exception (`UnrecognizedClientException`, `ExpiredTokenException`, …)
 * map by HTTP status; anything else never reached the service.
 *
 * @param midStream the call had already started streaming, so a broken connection is a cut stream.
 */
export function bedrockFailure(error: unknown, signal: AbortSignal, midStream: boolean): ProviderError {
  if (error instanceof ProviderError) return error;
  if (signal.aborted) {
    return new ProviderError('timeout', 'bedrock: the call timed out or was aborted', { cause: error });
  }
  if (error instanceof BedrockRuntimeServiceException) {
    const status = httpStatusOf(error);
    return new ProviderError(
      kindOfServiceException(error, midStream),
      `bedrock: ${upstreamMessage(error.message)}`,
      {
        status,
        cause: error,
      },
    );
  }
  if (midStream) {
    return new ProviderError('stream_cut', 'bedrock: the stream broke before it finished', { cause: error });
  }
  return new ProviderError('connection', 'bedrock: could not reach the service', { cause: error });
}

function kindOfServiceException(
  error: BedrockRuntimeServiceException,
  midStream: boolean,
): ProviderFailureKind {
  if (error instanceof ModelStreamErrorException) return 'stream_cut';
  if (error instanceof ThrottlingException || error instanceof ServiceQuotaExceededException)
    return 'rate_limited';
  if (error instanceof ModelTimeoutException) return 'timeout';
  if (
    error instanceof ServiceUnavailableException ||
    error instanceof InternalServerException ||
    error instanceof ModelNotReadyException ||
    error instanceof ModelErrorException ||
    // A conflicting state at the service, which another backend does not share.
    error instanceof ConflictException
  ) {
    return 'server_error';
  }
  if (error instanceof AccessDeniedException) return 'auth';
  // The model is not offered in this region or under this id: the catalog's mistake.
  if (error instanceof ResourceNotFoundException) return 'model_unavailable';
  if (error instanceof ValidationException) return 'invalid_request';
  const status = httpStatusOf(error);
  if (status === undefined) return midStream ? 'stream_cut' : 'server_error';
  return failureKindOfStatus(status);
}

/** The HTTP status of an exception; exceptions read from an event stream carry no `$metadata`. */
function httpStatusOf(error: BedrockRuntimeServiceException): number | undefined {
  const metadata = error.$metadata as typeof error.$metadata | undefined;
  return metadata?.httpStatusCode;
}
