import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';

/** An API Gateway resource template, e.g. `/v1/runs/{run_id}/events` or `/{proxy+}`. */
export type ResourceTemplate = { resource: string; method: string };

type CompiledResource<T> = { template: T & ResourceTemplate; pattern: RegExp; names: string[]; rank: number };

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Compiles resources and matches paths the way API Gateway does: literal beats parameter beats greedy. */
export function createResourceMatcher<T>(resources: (T & ResourceTemplate)[]) {
  const compiled: CompiledResource<T>[] = resources.map((template) => {
    const names: string[] = [];
    const segments = template.resource.split('/').filter((s) => s !== '');
    let rank = 0;
    const source = segments
      .map((segment) => {
        const greedy = /^\{([A-Za-z0-9_]+)\+\}$/.exec(segment);
        if (greedy?.[1] !== undefined) {
          names.push(greedy[1]);
          return '/(.+)';
        }
        const param = /^\{([A-Za-z0-9_]+)\}$/.exec(segment);
        if (param?.[1] !== undefined) {
          names.push(param[1]);
          rank += 10;
          return '/([^/]+)';
        }
        rank += 100;
        return `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
      })
      .join('');
    return { template, pattern: new RegExp(`^${source || '/'}$`), names, rank };
  });
  compiled.sort((a, b) => b.rank - a.rank);
  return (
    method: string,
    path: string,
  ): { template: T & ResourceTemplate; pathParameters: Record<string, string> } | undefined => {
    for (const candidate of compiled) {
      if (candidate.template.method !== 'ANY' && candidate.template.method !== method) continue;
      const found = candidate.pattern.exec(path);
      if (found === null) continue;
      const pathParameters: Record<string, string> = {};
      candidate.names.forEach((name, i) => {
        // API Gateway hands path parameters to the function URL-decoded.
        pathParameters[name] = safeDecode(found[i + 1] ?? '');
      });
      return { template: candidate.template, pathParameters };
    }
    return undefined;
  };
}

/**
 * Whether API Gateway treats a request body as binary (base64 in the event): its Content-Type matches
 * one of the API's binary media types, where `*` in a type or subtype matches anything. A body
 * without a Content-Type is binary only under the all-types wildcard.
 */
export function isBinaryMediaType(contentType: string, binaryMediaTypes: readonly string[]): boolean {
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  const [type = '', subtype = ''] = essence.split('/');
  return binaryMediaTypes.some((candidate) => {
    const [wantType = '', wantSubtype = ''] = candidate.toLowerCase().split('/');
    return (wantType === '*' || wantType === type) && (wantSubtype === '*' || wantSubtype === subtype);
  });
}

/** Builds the REST API (v1) Lambda proxy event API Gateway would send for this request. */
export function toProxyEvent(options: {
  request: IncomingMessage;
  body: Buffer;
  resource: string;
  pathParameters: Record<string, string>;
  stage: string;
  /** The REST API's binary media types: bodies of these types arrive base64-encoded. */
  binaryMediaTypes: readonly string[];
  /** API Gateway's id of this request (a new one when absent). */
  requestId?: string;
}): APIGatewayProxyEvent {
  const { request, body, stage } = options;
  const url = new URL(request.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i] ?? '';
    const value = request.rawHeaders[i + 1] ?? '';
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiQuery[name] ??= []).push(value);
  }
  const contentType = request.headers['content-type'] ?? '';
  const isText = !isBinaryMediaType(contentType, options.binaryMediaTypes);
  const now = Date.now();
  return {
    resource: options.resource,
    path: url.pathname,
    httpMethod: request.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: Object.keys(multiQuery).length > 0 ? multiQuery : null,
    pathParameters: Object.keys(options.pathParameters).length > 0 ? options.pathParameters : null,
    stageVariables: null,
    body: body.length === 0 ? null : isText ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !isText,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: undefined,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: request.method ?? 'GET',
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: request.headers['user-agent'] ?? null,
        userArn: null,
      },
      path: `/${stage}${url.pathname}`,
      stage,
      requestId: options.requestId ?? randomUUID(),
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: options.resource,
    },
  };
}
