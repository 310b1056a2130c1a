import type { JsonObject, JsonValue } from './json-value.ts';
import { isJsonObject } from './json-value.ts';
import { compareSchemas } from './schema-compatibility.ts';
import type { BreakingChange, CompareContext, Direction } from './schema-compatibility.ts';

/**
 * The additive-only rule over whole OpenAPI documents: operations, scopes, parameters, request bodies,
 * response statuses, media types and headers, and (through schema-compatibility.ts) every schema they
 * reach. Operations the baseline marks `x-implemented: false` have no clients yet, so their changes
 * are noted, not enforced.
 */

export type { BreakingChange } from './schema-compatibility.ts';

export type GuardResult = { breaking: BreakingChange[]; notices: string[] };

const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

function objectAt(value: JsonValue | undefined, ...keys: string[]): JsonObject {
  let current: JsonValue | undefined = value;
  for (const key of keys) current = isJsonObject(current) ? current[key] : undefined;
  return isJsonObject(current) ? current : {};
}

/** Follows a `#/components/<kind>/<name>` reference (parameters, headers). */
function dereference(document: JsonObject, value: JsonValue | undefined): JsonObject {
  if (!isJsonObject(value)) return {};
  const ref = value['$ref'];
  if (typeof ref !== 'string') return value;
  const [, kind, name] = /^#\/components\/([^/]+)\/([^/]+)$/.exec(ref) ?? [];
  if (kind === undefined || name === undefined) throw new Error(`Cannot resolve $ref ${ref}`);
  return objectAt(document, 'components', kind, name);
}

/** Parameters by `<in> parameter <name>`; header names are case-insensitive on the wire. */
function parametersByKey(document: JsonObject, operation: JsonObject): Map<string, JsonObject> {
  const parameters = Array.isArray(operation['parameters']) ? operation['parameters'] : [];
  const byKey = new Map<string, JsonObject>();
  for (const raw of parameters) {
    const parameter = dereference(document, raw);
    const name = String(parameter['name']);
    const location = String(parameter['in']);
    byKey.set(`${location} parameter ${location === 'header' ? name.toLowerCase() : name}`, parameter);
  }
  return byKey;
}

function headersByName(document: JsonObject, response: JsonObject): Map<string, JsonObject> {
  return new Map(
    Object.entries(objectAt(response, 'headers')).map(([name, raw]) => [
      name.toLowerCase(),
      dereference(document, raw),
    ]),
  );
}

function compareOperation(
  context: (direction: Direction) => CompareContext,
  label: string,
  baseline: JsonObject,
  current: JsonObject,
  old: JsonObject,
  now: JsonObject,
): void {
  const request = context('request');
  const response = context('response');
  const flag = (message: string) => request.findings.push({ location: label, message });

  if (now['x-implemented'] === false) flag('is no longer implemented');
  const oldScope = old['x-agentos-scope'];
  const newScope = now['x-agentos-scope'];
  // Dropping a scope requirement breaks nobody; requiring another scope does.
  if (newScope !== undefined && newScope !== oldScope) {
    flag(`requires scope ${String(newScope ?? 'none')} instead of ${String(oldScope ?? 'none')}`);
  }

  const oldParameters = parametersByKey(baseline, old);
  const newParameters = parametersByKey(current, now);
  for (const [key, parameter] of oldParameters) {
    const twin = newParameters.get(key);
    if (twin === undefined) {
      flag(`removed ${key}`);
      continue;
    }
    if (parameter['required'] !== true && twin['required'] === true) flag(`${key} became required`);
    compareSchemas(request, parameter['schema'] ?? {}, twin['schema'] ?? {}, `${label} ${key}`);
  }
  for (const [key, parameter] of newParameters) {
    if (!oldParameters.has(key) && parameter['required'] === true) flag(`new required ${key}`);
  }

  const oldBody = objectAt(old, 'requestBody');
  const newBody = objectAt(now, 'requestBody');
  const oldBodyContent = objectAt(oldBody, 'content');
  const newBodyContent = objectAt(newBody, 'content');
  if (Object.keys(oldBody).length === 0 && newBody['required'] === true) flag('now requires a request body');
  for (const [mediaType, media] of Object.entries(oldBodyContent)) {
    const twin = newBodyContent[mediaType];
    if (twin === undefined) flag(`no longer accepts a ${mediaType} body`);
    else
      compareSchemas(request, objectAt(media, 'schema'), objectAt(twin, 'schema'), `${label} request body`);
  }

  const newResponses = objectAt(now, 'responses');
  for (const [status, raw] of Object.entries(objectAt(old, 'responses'))) {
    const oldResponse = objectAt(raw);
    const newResponse = newResponses[status];
    if (!isJsonObject(newResponse)) {
      // Error statuses come and go with behaviour; a success status clients handle must stay.
      if (status.startsWith('2')) flag(`no longer answers ${status}`);
      continue;
    }
    const newContent = objectAt(newResponse, 'content');
    for (const [mediaType, media] of Object.entries(objectAt(oldResponse, 'content'))) {
      const twin = newContent[mediaType];
      if (twin === undefined) flag(`${status} no longer returns ${mediaType}`);
      else
        compareSchemas(
          response,
          objectAt(media, 'schema'),
          objectAt(twin, 'schema'),
          `${label} ${status} ${mediaType}`,
        );
    }
    const newHeaders = headersByName(current, newResponse);
    for (const [name, header] of headersByName(baseline, oldResponse)) {
      const twin = newHeaders.get(name);
      if (twin === undefined) flag(`${status} no longer sends header ${name}`);
      else {
        if (header['required'] === true && twin['required'] !== true)
          flag(`${status} header ${name} is no longer always sent`);
        compareSchemas(
          response,
          header['schema'] ?? {},
          twin['schema'] ?? {},
          `${label} ${status} header ${name}`,
        );
      }
    }
  }
}

function unique(findings: BreakingChange[]): BreakingChange[] {
  const seen = new Set<string>();
  return findings.filter((finding) => {
    const key = `${finding.direction ?? ''}|${finding.location}|${finding.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Every change from `baseline` to `current` that would break a client built against the baseline. */
export function findBreakingChanges(baseline: JsonObject, current: JsonObject): GuardResult {
  const findings: BreakingChange[] = [];
  const notices: string[] = [];
  const visited = new Set<string>();
  const context = (direction: Direction): CompareContext => ({
    baseline,
    current,
    direction,
    findings,
    visited,
  });

  for (const [path, item] of Object.entries(objectAt(baseline, 'paths'))) {
    for (const method of methods) {
      const old = objectAt(item, method);
      if (Object.keys(old).length === 0) continue;
      const label = `${method.toUpperCase()} ${path}`;
      if (old['x-implemented'] === false) {
        notices.push(`${label} is not implemented in the baseline; its changes are not enforced`);
        continue;
      }
      const now = objectAt(current, 'paths', path, method);
      if (Object.keys(now).length === 0) {
        findings.push({ location: label, message: 'was removed' });
        continue;
      }
      compareOperation(context, label, baseline, current, old, now);
    }
  }
  return { breaking: unique(findings), notices };
}

/** One line per breaking change, for terminals and test failure messages. */
export function formatBreakingChange(change: BreakingChange): string {
  return `${change.location}: ${change.message}${change.direction === undefined ? '' : ` (${change.direction})`}`;
}
