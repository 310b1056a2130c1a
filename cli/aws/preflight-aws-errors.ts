/**
 * What the operator's checks need to know of an error thrown by an AWS SDK call: the service's error
 * name, the HTTP status, whether it never reached the service (network), and whether the endpoint
 * (an emulator) simply does not implement the operation.
 */
export type AwsErrorInfo = {
  /** The service's error code (`ParameterNotFound`), or the JavaScript error's name. */
  name: string;
  message: string;
  /** The HTTP status, when a response arrived. */
  status?: number;
  /** A Node network error code (`ECONNREFUSED`, `ENOTFOUND`, …), when no response arrived. */
  networkCode?: string;
  /** The response's content type, when one arrived. */
  contentType?: string;
};

type SdkErrorShape = {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { statusCode?: unknown; headers?: Record<string, unknown> };
  cause?: unknown;
};

function networkCodeOf(error: SdkErrorShape, depth = 0): string | undefined {
  if (typeof error.code === 'string' && /^E[A-Z]+$/.test(error.code)) return error.code;
  if (depth < 3 && typeof error.cause === 'object' && error.cause !== null)
    return networkCodeOf(error.cause as SdkErrorShape, depth + 1);
  return undefined;
}

/** Reads an SDK error into {@link AwsErrorInfo}; anything thrown is accepted. */
export function awsErrorInfo(error: unknown): AwsErrorInfo {
  if (typeof error !== 'object' || error === null) return { name: 'Error', message: String(error) };
  const shape = error as SdkErrorShape;
  const status =
    typeof shape.$metadata?.httpStatusCode === 'number'
      ? shape.$metadata.httpStatusCode
      : typeof shape.$response?.statusCode === 'number'
        ? shape.$response.statusCode
        : undefined;
  const contentType = shape.$response?.headers?.['content-type'];
  const networkCode = networkCodeOf(shape);
  return {
    name: typeof shape.name === 'string' ? shape.name : 'Error',
    // The first line only: SDK deserialization errors append advice about hidden fields.
    message: (typeof shape.message === 'string' ? shape.message : String(error)).split('\n')[0]!.trim(),
    ...(status === undefined ? {} : { status }),
    ...(networkCode === undefined ? {} : { networkCode }),
    ...(typeof contentType === 'string' ? { contentType } : {}),
  };
}

/**
 * Whether an emulator answered that it lacks the operation: 501, a "not implemented" message, or a
 * 404/500 HTML page (moto's answer to an unrouted or unimplemented call; AWS APIs never answer HTML).
 * Only meaningful for emulator targets: on AWS the same answers are real failures.
 */
export function isNotImplemented(info: AwsErrorInfo): boolean {
  if (info.status === 501 || /not (yet )?implemented/i.test(info.message)) return true;
  return (info.status === 404 || info.status === 500) && info.contentType?.startsWith('text/html') === true;
}

/** The error in one line for a check's detail: `Name (HTTP 400): message`. */
export function describeAwsError(info: AwsErrorInfo): string {
  if (info.contentType?.startsWith('text/html') === true && info.status !== undefined)
    return `HTTP ${info.status} with an HTML page instead of an AWS API response`;
  const where = info.status === undefined ? (info.networkCode ?? '') : `HTTP ${info.status}`;
  return `${info.name}${where === '' || where === info.name ? '' : ` (${where})`}: ${info.message}`;
}

/** Whether the call never got an answer: the endpoint is unreachable, or every attempt timed out. */
export function isUnreachable(info: AwsErrorInfo): boolean {
  return info.status === undefined && (info.networkCode !== undefined || info.name === 'TimeoutError');
}
