import type { z } from 'zod';
import { restApiDefinition } from '../../infra/resources/definitions.ts';
import { ErrorEnvelopeSchema } from '../../functions/shared/errors/error-envelope.ts';
import type { HeaderSpec, ResponseSpec, RouteSpec } from '../../functions/shared/http/route-spec.ts';
import type { JsonObject } from './json-value.ts';
import { convertZodSchemas } from './zod-to-components.ts';
import type { ConvertedSchemas } from './zod-to-components.ts';

/** One OpenAPI document: a service's operations and how to describe them. */
export type ApiDocumentSpec = {
  /** Base of the file names: `schemas/<name>.openapi.json`, `schemas/examples/<name>/`. */
  name: string;
  title: string;
  version: string;
  description: string;
  /** `stub` marks a designed API that no service serves yet (`info.x-status`). */
  status?: 'stub';
  /** Where the API is served (OpenAPI `servers`): a local node's port, a deployed node's stage. */
  servers: readonly ApiServer[];
  operations: readonly RouteSpec[];
};

/** One OpenAPI server: a URL template and the variables it names. */
export type ApiServer = {
  url: string;
  description: string;
  variables?: Record<string, { default: string; description: string }>;
};

/**
 * The licence every document declares. The project grants none (package.json is private and the
 * repository carries no licence file), so the documents say so rather than leave it unstated.
 */
const license = { name: 'Proprietary: no licence is granted', identifier: 'LicenseRef-AgentOS-Proprietary' };

const errorEnvelopeRef = { $ref: '#/components/schemas/ErrorEnvelope' };
const correlationHeaderName = 'X-Correlation-Id';

/** Error statuses every authenticated operation can answer, and what they mean. */
const authErrors: Record<number, string> = {
  401: 'unauthorized: the bearer token is missing, expired, or fails verification',
  403: 'forbidden: the token does not carry the scope this operation requires',
};
const internalError = 'internal: an unexpected failure; the message is always generic';

/**
 * Client errors API Gateway itself answers, with the error envelope, before any route sees the
 * request (infra/resources/definitions.ts, served the same by the local front): today a request over
 * the gateway's size limit, whatever its method. "No route" (404) is left out: it belongs to no
 * operation.
 */
const gatewayErrors = restApiDefinition.gatewayResponses.flatMap((response) =>
  'statusCode' in response &&
  response.statusCode >= 400 &&
  response.statusCode < 500 &&
  response.code !== 'not_found'
    ? [
        {
          status: response.statusCode,
          description: `${response.code}: ${response.message} (answered by the API gateway)`,
        },
      ]
    : [],
);

/** Parameter names of a route template such as `/v1/runs/{run_id}:cancel` (or `{model_ref+}`). */
export function pathParameterNames(path: string): string[] {
  return [...path.matchAll(/\{([a-z_]+)\+?\}/g)].map((match) => match[1]!);
}

/** The path as OpenAPI spells it: `{name+}` (a parameter that may span slashes) becomes `{name}`. */
export function openApiPath(path: string): string {
  return path.replace(/\{([a-z_]+)\+\}/g, '{$1}');
}

function checkOperations(spec: ApiDocumentSpec): void {
  const ids = new Set<string>();
  const routes = new Set<string>();
  for (const operation of spec.operations) {
    const route = `${operation.method} ${operation.path}`;
    if (ids.has(operation.operationId)) throw new Error(`Duplicate operationId ${operation.operationId}`);
    if (routes.has(route)) throw new Error(`Two operations declare ${route}`);
    ids.add(operation.operationId);
    routes.add(route);

    const declared = Object.keys(operation.request?.params?.shape ?? {}).sort();
    const templated = pathParameterNames(operation.path).sort();
    if (declared.join() !== templated.join()) {
      throw new Error(
        `${operation.operationId}: path parameters ${templated.join()} need schemas, got ${declared.join()}`,
      );
    }
    for (const [status, response] of Object.entries(operation.responses)) {
      if (Number(status) >= 400 && response.content !== undefined) {
        throw new Error(
          `${operation.operationId}: error ${status} always carries the error envelope; drop its content`,
        );
      }
      const stream = response.content?.['text/event-stream'];
      if (stream !== undefined && stream.sse === undefined) {
        throw new Error(`${operation.operationId}: ${status} text/event-stream needs its SSE framing`);
      }
    }
    if (!Object.keys(operation.responses).some((status) => Number(status) < 300)) {
      throw new Error(`${operation.operationId}: declares no success response`);
    }
  }
}

function requestSchemas(operation: RouteSpec): z.ZodType[] {
  const request = operation.request ?? {};
  return [
    ...(request.params ? [request.params] : []),
    ...(request.query ? [request.query] : []),
    ...(request.body ? [request.body] : []),
    ...(request.headers ?? []).flatMap((header) => (header.schema ? [header.schema] : [])),
  ];
}

function responseSchemas(operation: RouteSpec): z.ZodType[] {
  return Object.values(operation.responses).flatMap((response) => [
    ...Object.values(response.content ?? {}).map((content) => content.schema),
    ...(response.headers ?? []).flatMap((header) => (header.schema ? [header.schema] : [])),
  ]);
}

function objectParameters(
  converted: ConvertedSchemas,
  schema: z.ZodObject | undefined,
  location: 'path' | 'query',
): JsonObject[] {
  if (schema === undefined) return [];
  const object = converted.schemaOf(schema, 'input');
  const properties = (object['properties'] ?? {}) as Record<string, JsonObject>;
  const required = new Set((object['required'] ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: location,
      required: location === 'path' || required.has(name),
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

function headerSchema(converted: ConvertedSchemas, header: HeaderSpec, io: 'input' | 'output'): JsonObject {
  return header.schema ? converted.schemaOf(header.schema, io) : { type: 'string' };
}

function buildResponse(converted: ConvertedSchemas, status: number, response: ResponseSpec): JsonObject {
  const headers: JsonObject = { [correlationHeaderName]: { $ref: '#/components/headers/CorrelationId' } };
  for (const header of response.headers ?? []) {
    headers[header.name] = {
      description: header.description,
      required: header.required,
      schema: headerSchema(converted, header, 'output'),
    };
  }
  const content: JsonObject = {};
  if (status >= 400) {
    content['application/json'] = { schema: errorEnvelopeRef };
  }
  for (const [mediaType, body] of Object.entries(response.content ?? {})) {
    content[mediaType] = {
      schema: converted.schemaOf(body.schema, 'output'),
      ...(body.sse === undefined ? {} : { 'x-sse': body.sse }),
    };
  }
  return {
    description: response.description,
    headers,
    ...(Object.keys(content).length > 0 ? { content } : {}),
  };
}

function withDefaultErrors(operation: RouteSpec): Record<number, ResponseSpec> {
  const responses: Record<number, ResponseSpec> = { ...operation.responses };
  if (operation.scope !== null) {
    for (const [status, description] of Object.entries(authErrors)) {
      responses[Number(status)] ??= { description };
    }
  }
  if (operation.request?.body !== undefined) {
    responses[415] ??= {
      description: 'invalid_request: the body is not JSON (send Content-Type: application/json).',
    };
    responses[413] ??= {
      description:
        'invalid_request: the body is larger than this operation accepts (its own limit, below the API gateway’s 10 MB).',
    };
  }
  for (const { status, description } of gatewayErrors) responses[status] ??= { description };
  responses[500] ??= { description: internalError };
  return responses;
}

function buildOperation(converted: ConvertedSchemas, operation: RouteSpec): JsonObject {
  const request = operation.request ?? {};
  const parameters: JsonObject[] = [
    ...objectParameters(converted, request.params, 'path'),
    ...objectParameters(converted, request.query, 'query'),
    ...(request.headers ?? []).map((header) => ({
      name: header.name,
      in: 'header',
      required: header.required,
      description: header.description,
      schema: headerSchema(converted, header, 'input'),
    })),
    { $ref: '#/components/parameters/CorrelationId' },
  ];
  const responses: JsonObject = {};
  for (const [status, response] of Object.entries(withDefaultErrors(operation))) {
    responses[status] = buildResponse(converted, Number(status), response);
  }
  return {
    operationId: operation.operationId,
    summary: operation.summary,
    ...(operation.description === undefined ? {} : { description: operation.description }),
    ...(operation.tags === undefined ? {} : { tags: operation.tags }),
    security: operation.scope === null ? [] : [{ bearerAuth: [operation.scope] }],
    ...(operation.scope === null ? {} : { 'x-agentos-scope': operation.scope }),
    ...(operation.implemented === false ? { 'x-implemented': false } : {}),
    parameters,
    ...(request.body === undefined
      ? {}
      : {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: converted.schemaOf(request.body, 'input') } },
          },
        }),
    responses,
  };
}

/**
 * Builds the OpenAPI 3.1 document of one API from its operations. Every error status carries the
 * shared error envelope; authenticated operations document bearer JWT security with their scope
 * (as the security requirement's role and as `x-agentos-scope`).
 */
export function buildOpenApiDocument(spec: ApiDocumentSpec): JsonObject {
  checkOperations(spec);
  const converted = convertZodSchemas(spec.operations.flatMap(requestSchemas), [
    ErrorEnvelopeSchema,
    ...spec.operations.flatMap(responseSchemas),
  ]);

  const paths: Record<string, JsonObject> = {};
  for (const operation of spec.operations) {
    const path = openApiPath(operation.path);
    paths[path] ??= {};
    paths[path][operation.method.toLowerCase()] = buildOperation(converted, operation);
  }

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: spec.title,
      version: spec.version,
      description: spec.description,
      license,
      ...(spec.status === undefined ? {} : { 'x-status': spec.status }),
    },
    servers: spec.servers.map((server) => ({ ...server })) as JsonObject[],
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      schemas: converted.components,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'A JWT whose claims carry tenant_id, the principal (sub) and scopes; signature, iss, aud and exp are verified. ' +
            'Each operation names the scope it requires (x-agentos-scope).',
        },
      },
      parameters: {
        CorrelationId: {
          name: correlationHeaderName,
          in: 'header',
          required: false,
          description:
            'A caller-chosen id echoed in the response and in error envelopes when it is 1-128 characters of A-Z a-z 0-9 . _ : -; otherwise the service assigns one.',
          schema: { type: 'string' },
        },
      },
      headers: {
        CorrelationId: {
          description: 'The correlation id of this request (also in error envelopes and logs).',
          required: true,
          schema: { type: 'string' },
        },
      },
    },
  };
}
