import { isDeepStrictEqual } from 'node:util';
import type { JsonObject, JsonValue } from '../../../cli/schemas/json-value.ts';
import { isJsonObject } from '../../../cli/schemas/json-value.ts';

/**
 * Structural checks of an OpenAPI 3.1 document (the parts of the specification our documents use),
 * plus AgentOS's own conventions: errors carry the ErrorEnvelope, scopes match security roles.
 * Stands in for a full OpenAPI validator until one is a dependency.
 */

const documentKeys = new Set([
  'openapi',
  'info',
  'jsonSchemaDialect',
  'servers',
  'paths',
  'webhooks',
  'components',
  'security',
  'tags',
  'externalDocs',
]);
const pathItemKeys = new Set(['$ref', 'summary', 'description', 'servers', 'parameters']);
const methods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const operationKeys = new Set([
  'tags',
  'summary',
  'description',
  'externalDocs',
  'operationId',
  'parameters',
  'requestBody',
  'responses',
  'callbacks',
  'deprecated',
  'security',
  'servers',
]);
const parameterLocations = new Set(['query', 'header', 'path', 'cookie']);
const errorContent = { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } };

function allowedKey(allowed: Set<string>, key: string): boolean {
  return allowed.has(key) || key.startsWith('x-');
}

function resolve(document: JsonObject, ref: string): JsonValue | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let current: JsonValue | undefined = document;
  for (const raw of ref.slice(2).split('/')) {
    const segment = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    current = isJsonObject(current) ? current[segment] : undefined;
  }
  return current;
}

function collectRefs(value: JsonValue, at: string, found: { ref: string; at: string }[]): void {
  if (Array.isArray(value)) value.forEach((item, index) => collectRefs(item, `${at}/${index}`, found));
  else if (isJsonObject(value)) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') found.push({ ref: inner, at });
      else collectRefs(inner, `${at}/${key}`, found);
    }
  }
}

function derefObject(document: JsonObject, value: JsonValue | undefined): JsonObject | undefined {
  if (!isJsonObject(value)) return undefined;
  const ref = value['$ref'];
  if (typeof ref !== 'string') return value;
  const target = resolve(document, ref);
  return isJsonObject(target) ? target : undefined;
}

function checkOperation(
  document: JsonObject,
  label: string,
  path: string,
  operation: JsonObject,
  problems: string[],
): void {
  const problem = (message: string) => problems.push(`${label}: ${message}`);
  for (const key of Object.keys(operation))
    if (!allowedKey(operationKeys, key)) problem(`unknown key ${key}`);

  const parameters = Array.isArray(operation['parameters']) ? operation['parameters'] : [];
  const seen = new Set<string>();
  const pathParameters = new Set<string>();
  for (const raw of parameters) {
    const parameter = derefObject(document, raw);
    if (parameter === undefined) {
      problem('a parameter does not resolve');
      continue;
    }
    const name = parameter['name'];
    const location = parameter['in'];
    if (typeof name !== 'string' || typeof location !== 'string' || !parameterLocations.has(location)) {
      problem(`parameter ${JSON.stringify(parameter)} needs a name and a valid "in"`);
      continue;
    }
    const key = `${location} ${location === 'header' ? name.toLowerCase() : name}`;
    if (seen.has(key)) problem(`duplicate ${key} parameter`);
    seen.add(key);
    if (!isJsonObject(parameter['schema'])) problem(`${key} parameter has no schema`);
    if (location === 'path') {
      pathParameters.add(name);
      if (parameter['required'] !== true) problem(`path parameter ${name} must be required`);
    }
  }
  const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
  for (const name of templated)
    if (!pathParameters.has(name)) problem(`path parameter ${name} is not declared`);
  for (const name of pathParameters)
    if (!templated.includes(name)) problem(`path parameter ${name} is not in the path`);

  const body = operation['requestBody'];
  if (body !== undefined) {
    const content = isJsonObject(body) ? body['content'] : undefined;
    if (!isJsonObject(content) || Object.keys(content).length === 0) problem('requestBody has no content');
    else {
      for (const [mediaType, media] of Object.entries(content)) {
        if (!isJsonObject(media) || !isJsonObject(media['schema']))
          problem(`request ${mediaType} has no schema`);
      }
    }
  }

  const responses = operation['responses'];
  if (!isJsonObject(responses) || Object.keys(responses).length === 0) {
    problem('has no responses');
    return;
  }
  if (!Object.keys(responses).some((status) => status.startsWith('2'))) problem('has no success response');
  for (const [status, raw] of Object.entries(responses)) {
    const response = derefObject(document, raw);
    if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) problem(`invalid response status ${status}`);
    if (response === undefined || typeof response['description'] !== 'string') {
      problem(`response ${status} needs a description`);
      continue;
    }
    const content = response['content'];
    if (Number(status) >= 400 && !isDeepStrictEqual(content, errorContent)) {
      problem(`error response ${status} must carry exactly the ErrorEnvelope`);
    }
    if (isJsonObject(content)) {
      for (const [mediaType, media] of Object.entries(content)) {
        if (!isJsonObject(media) || !isJsonObject(media['schema']))
          problem(`response ${status} ${mediaType} has no schema`);
      }
    }
    for (const [name, header] of Object.entries(
      isJsonObject(response['headers']) ? response['headers'] : {},
    )) {
      const resolved = derefObject(document, header);
      if (resolved === undefined || !isJsonObject(resolved['schema']))
        problem(`response ${status} header ${name} has no schema`);
    }
  }

  const security = operation['security'];
  const scope = operation['x-agentos-scope'];
  if (scope === undefined) {
    if (!isDeepStrictEqual(security, [])) problem('an operation without a scope must declare security: []');
  } else if (!isDeepStrictEqual(security, [{ bearerAuth: [scope] }])) {
    problem(`security must require bearerAuth with the role ${String(scope)}`);
  }
}

/** Problems with an OpenAPI 3.1 document, as human-readable lines; empty when it is well formed. */
export function openApiStructureProblems(document: JsonObject): string[] {
  const problems: string[] = [];
  if (document['openapi'] !== '3.1.0') problems.push('openapi must be 3.1.0');
  for (const key of Object.keys(document))
    if (!allowedKey(documentKeys, key)) problems.push(`unknown top-level key ${key}`);
  const info = document['info'];
  if (!isJsonObject(info) || typeof info['title'] !== 'string' || typeof info['version'] !== 'string') {
    problems.push('info needs a title and a version');
  }

  const components = isJsonObject(document['components']) ? document['components'] : {};
  const schemes = isJsonObject(components['securitySchemes']) ? components['securitySchemes'] : {};
  const schemas = isJsonObject(components['schemas']) ? components['schemas'] : {};
  for (const name of Object.keys(schemas)) {
    if (!/^[a-zA-Z0-9._-]+$/.test(name)) problems.push(`component name ${name} is not allowed`);
  }
  const requirements = [...(Array.isArray(document['security']) ? document['security'] : [])];

  const operationIds = new Set<string>();
  const paths = isJsonObject(document['paths']) ? document['paths'] : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith('/')) problems.push(`path ${path} must start with /`);
    if (!isJsonObject(item)) continue;
    for (const [key, operation] of Object.entries(item)) {
      if (!methods.has(key)) {
        if (!allowedKey(pathItemKeys, key)) problems.push(`${path}: unknown key ${key}`);
        continue;
      }
      const label = `${key.toUpperCase()} ${path}`;
      if (!isJsonObject(operation)) continue;
      const id = operation['operationId'];
      if (typeof id !== 'string') problems.push(`${label}: needs an operationId`);
      else if (operationIds.has(id)) problems.push(`${label}: duplicate operationId ${id}`);
      else operationIds.add(id);
      if (Array.isArray(operation['security'])) requirements.push(...operation['security']);
      checkOperation(document, label, path, operation, problems);
    }
  }

  for (const requirement of requirements) {
    for (const name of Object.keys(isJsonObject(requirement) ? requirement : {})) {
      if (!(name in schemes)) problems.push(`security scheme ${name} is not defined`);
    }
  }
  const refs: { ref: string; at: string }[] = [];
  collectRefs(document, '', refs);
  for (const { ref, at } of refs) {
    if (resolve(document, ref) === undefined) problems.push(`${at}: $ref ${ref} does not resolve`);
  }
  return problems;
}
