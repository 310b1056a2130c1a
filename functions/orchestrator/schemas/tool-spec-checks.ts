import { InvalidRequestError } from '../../shared/errors/agentos-error.ts';
import type { FieldIssue } from '../../shared/errors/agentos-error.ts';
import { ToolArgumentValidator } from './tool-arguments.ts';
import { reservedToolIds } from './tool.ts';
import type { ToolSpec } from './tool.ts';

/**
 * What a tenant's HTTP tool must satisfy beyond its zod shape (HLD §10.1, §5.2 tool allow-list):
 * an id that is not a built-in's, an arguments schema the runtime can compile and check calls
 * against, and a request template that can only become an http(s) request with safe headers.
 */

/** Largest `parameters` schema, serialized. */
export const maxParametersBytes = 32 * 1024;
/** Deepest nesting of `parameters` (objects and arrays; the root object is level 1). */
export const maxParametersDepth = 32;

/** Request headers a tool may not fix: the transport owns them. */
const transportHeaders = ['host', 'content-length'];

/** `{name}` placeholders of a URL template. */
const placeholderPattern = /\{([^{}]*)\}/g;
const placeholderName = /^[A-Za-z0-9_]{1,64}$/;

/** Nesting depth of `value`, counted no further than `limit + 1`: the walk stops there. */
function depthOf(value: unknown, limit: number): number {
  if (value === null || typeof value !== 'object') return 0;
  if (limit < 0) return 1;
  const children = Array.isArray(value) ? value : Object.values(value);
  let deepest = 0;
  for (const child of children) {
    deepest = Math.max(deepest, depthOf(child, limit - 1));
    if (deepest > limit) break;
  }
  return deepest + 1;
}

/**
 * Compiles schemas exactly as the step worker will check calls against them (RE2 patterns, the same
 * formats), so a tool accepted here never fails every call there.
 */
const parametersCompiler = new ToolArgumentValidator({ maxSchemas: 16 });

function parameterIssues(parameters: Record<string, unknown>): FieldIssue[] {
  const field = 'parameters';
  const bytes = Buffer.byteLength(JSON.stringify(parameters), 'utf8');
  if (bytes > maxParametersBytes)
    return [{ field, message: `is ${bytes} bytes; at most ${maxParametersBytes} are accepted` }];
  if (depthOf(parameters, maxParametersDepth) > maxParametersDepth)
    return [{ field, message: `is nested deeper than ${maxParametersDepth} levels` }];
  if (parameters['type'] !== 'object')
    return [{ field: 'parameters.type', message: 'must be "object": tools take an arguments object' }];
  const problem = parametersCompiler.schemaProblem(parameters);
  if (problem !== undefined)
    return [{ field, message: `is not a JSON Schema that compiles: ${problem.slice(0, 300)}` }];
  return [];
}

function urlIssues(spec: ToolSpec): FieldIssue[] {
  const field = 'http.url';
  const template = spec.http.url;
  const properties = spec.parameters['properties'];
  const known = properties !== null && typeof properties === 'object' ? Object.keys(properties) : [];
  const issues: FieldIssue[] = [];
  for (const [, name = ''] of template.matchAll(placeholderPattern)) {
    if (!placeholderName.test(name))
      issues.push({ field, message: `placeholder {${name}} is not a valid argument name` });
    else if (!known.includes(name))
      issues.push({ field, message: `placeholder {${name}} is not a property of parameters` });
  }
  if (issues.length > 0) return issues;
  let url: URL;
  try {
    url = new URL(template.replace(placeholderPattern, 'x'));
  } catch {
    return [{ field, message: 'is not an absolute URL' }];
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return [{ field, message: 'must be an http or https URL' }];
  if (url.username !== '' || url.password !== '')
    return [{ field, message: 'may not carry credentials; use http.credentials' }];
  // Parsed as the runtime parses it, whatever the template's spelling (`https:{h}`, `https:\\{h}`):
  // if what fills the placeholders can change the origin, the model could pick where credentials go.
  const other = new URL(template.replace(placeholderPattern, 'y'));
  if (url.origin !== other.origin) return [{ field, message: 'placeholders may not be in the host' }];
  return [];
}

function headerIssues(spec: ToolSpec): FieldIssue[] {
  const credentialHeader = spec.http.credentials?.header.toLowerCase();
  return Object.keys(spec.http.headers).flatMap((name) => {
    const lower = name.toLowerCase();
    if (transportHeaders.includes(lower))
      return [{ field: `http.headers.${name}`, message: `${name} is set by the transport, not by a tool` }];
    if (lower === credentialHeader)
      return [
        { field: `http.headers.${name}`, message: `${name} carries the credentials; it cannot be fixed too` },
      ];
    return [];
  });
}

/**
 * Refuses a tool a tenant may not declare: `invalid_request` whose fields name each problem
 * (`tool_id`, `parameters…`, `http.url`, `http.headers.<name>`).
 */
export function checkToolSpec(toolId: string, spec: ToolSpec): void {
  if (reservedToolIds.includes(toolId))
    throw new InvalidRequestError(`Tool id ${toolId} is reserved for a built-in tool`, [
      { field: 'tool_id', message: `"${toolId}" is reserved for a built-in tool` },
    ]);
  const issues = [...parameterIssues(spec.parameters), ...urlIssues(spec), ...headerIssues(spec)];
  const first = issues[0];
  if (first !== undefined)
    throw new InvalidRequestError(`Invalid tool: ${first.field} ${first.message}`, issues);
}
