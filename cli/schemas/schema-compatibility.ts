import { isDeepStrictEqual } from 'node:util';
import type { JsonObject, JsonValue } from './json-value.ts';
import { isJsonObject } from './json-value.ts';

/**
 * Compares a baseline JSON Schema with its current form and reports every change an existing client
 * could notice. Requests must keep accepting everything they accepted; responses must keep returning
 * every field they returned, with the same types. Additions are allowed: optional request fields,
 * response fields, enum values and discriminated variants (clients skip values they do not know).
 * Narrowing (fewer values accepted) is reported in both directions, and anything the comparison does
 * not understand is reported unless it is unchanged, so the guard fails closed.
 */

/** Which side of the API a schema describes. */
export type Direction = 'request' | 'response';

/** One change that breaks existing clients. */
export type BreakingChange = { location: string; message: string; direction?: Direction };

/** What a comparison needs: both documents (to resolve `$ref`s) and where findings go. */
export type CompareContext = {
  baseline: JsonObject;
  current: JsonObject;
  direction: Direction;
  findings: BreakingChange[];
  /** Component pairs already compared in a direction; stops cycles and repeated reports. */
  visited: Set<string>;
};

type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'object' | 'array' | 'any';

type Variant = { kind: Kind; schema: JsonObject; component?: string };

const componentPrefix = '#/components/schemas/';
const annotations = new Set([
  'description',
  'title',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
  '$comment',
  'contentEncoding',
  'contentMediaType',
]);
const understood = new Set([
  ...annotations,
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'enum',
  'const',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
]);

function report(ctx: CompareContext, location: string, message: string): void {
  ctx.findings.push({ location, message, direction: ctx.direction });
}

function resolve(document: JsonObject, schema: JsonValue): { schema: JsonObject; component?: string } {
  if (schema === true) return { schema: {} };
  if (!isJsonObject(schema)) throw new Error(`Not a schema: ${JSON.stringify(schema)}`);
  let current = schema;
  let component: string | undefined;
  for (let depth = 0; typeof current['$ref'] === 'string'; depth += 1) {
    const ref = current['$ref'];
    if (depth > 32 || !ref.startsWith(componentPrefix)) throw new Error(`Cannot resolve $ref ${ref}`);
    component = ref.slice(componentPrefix.length);
    const components = (document['components'] as JsonObject | undefined)?.['schemas'] as
      JsonObject | undefined;
    const target = components?.[component];
    if (!isJsonObject(target)) throw new Error(`Unresolved $ref ${ref}`);
    const siblings = Object.fromEntries(Object.entries(current).filter(([key]) => key !== '$ref'));
    current = { ...target, ...siblings };
  }
  return component === undefined ? { schema: current } : { schema: current, component };
}

function kindOfValue(value: JsonValue): Kind {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as Kind;
}

/** The alternatives a schema allows, one per JSON type or union member; `undefined` if not understood. */
function variantsOf(document: JsonObject, raw: JsonValue): Variant[] | undefined {
  const { schema, component } = resolve(document, raw);
  const options = schema['anyOf'] ?? schema['oneOf'];
  if (options !== undefined) {
    const siblings = Object.keys(schema).filter((key) => key !== 'anyOf' && key !== 'oneOf');
    if (!Array.isArray(options) || siblings.some((key) => !annotations.has(key))) return undefined;
    if ('anyOf' in schema && 'oneOf' in schema) return undefined;
    const variants: Variant[] = [];
    for (const option of options) {
      const inner = variantsOf(document, option);
      if (inner === undefined) return undefined;
      variants.push(...inner);
    }
    return variants;
  }
  if (Object.keys(schema).some((key) => !understood.has(key))) return undefined;
  const withComponent = (variant: Variant): Variant =>
    component === undefined ? variant : { ...variant, component };
  const type = schema['type'];
  if (typeof type === 'string') return [withComponent({ kind: type as Kind, schema })];
  if (Array.isArray(type)) {
    return type.map((member) => withComponent({ kind: member as Kind, schema: { ...schema, type: member } }));
  }
  const values =
    'const' in schema ? [schema['const']!] : Array.isArray(schema['enum']) ? schema['enum'] : undefined;
  if (values !== undefined) {
    const kinds = [...new Set(values.map(kindOfValue))];
    return kinds.map((kind) => withComponent({ kind, schema: { ...schema, type: kind } }));
  }
  return [withComponent({ kind: 'any', schema })];
}

function allowedValues(schema: JsonObject): JsonValue[] | undefined {
  if ('const' in schema) return [schema['const']!];
  return Array.isArray(schema['enum']) ? schema['enum'] : undefined;
}

function describeValues(values: JsonValue[]): string {
  return values.map((value) => JSON.stringify(value)).join(', ');
}

type Bound = { value: number; exclusive: boolean } | undefined;

function bound(schema: JsonObject, inclusiveKey: string, exclusiveKey: string, lower: boolean): Bound {
  const inclusive = schema[inclusiveKey];
  const exclusive = schema[exclusiveKey];
  const candidates: { value: number; exclusive: boolean }[] = [];
  if (typeof inclusive === 'number') candidates.push({ value: inclusive, exclusive: false });
  if (typeof exclusive === 'number') candidates.push({ value: exclusive, exclusive: true });
  // The tightest of the two is the effective bound.
  return candidates.sort((a, b) =>
    a.value === b.value
      ? Number(b.exclusive) - Number(a.exclusive)
      : lower
        ? b.value - a.value
        : a.value - b.value,
  )[0];
}

function tighter(oldBound: Bound, newBound: Bound, lower: boolean): boolean {
  if (newBound === undefined) return false;
  if (oldBound === undefined) return true;
  if (newBound.value === oldBound.value) return newBound.exclusive && !oldBound.exclusive;
  return lower ? newBound.value > oldBound.value : newBound.value < oldBound.value;
}

function describeBound(value: Bound, lower: boolean): string {
  if (value === undefined) return 'none';
  const sign = lower ? (value.exclusive ? '>' : '>=') : value.exclusive ? '<' : '<=';
  return `${sign} ${value.value}`;
}

function compareConstraints(
  ctx: CompareContext,
  old: JsonObject,
  current: JsonObject,
  location: string,
): void {
  const oldValues = allowedValues(old);
  const newValues = allowedValues(current);
  if (newValues !== undefined) {
    if (oldValues === undefined) {
      report(ctx, location, `narrowed to the values ${describeValues(newValues)}`);
    } else {
      const removed = oldValues.filter((value) => !newValues.some((kept) => isDeepStrictEqual(kept, value)));
      if (removed.length > 0) report(ctx, location, `removed value(s) ${describeValues(removed)}`);
    }
  }

  for (const [lowerKey, upperKey] of [
    ['minLength', 'maxLength'],
    ['minItems', 'maxItems'],
    ['minProperties', 'maxProperties'],
  ] as const) {
    const oldLower = old[lowerKey];
    const newLower = current[lowerKey];
    if (typeof newLower === 'number' && (typeof oldLower !== 'number' || newLower > oldLower)) {
      report(ctx, location, `${lowerKey} raised from ${String(oldLower ?? 'none')} to ${newLower}`);
    }
    const oldUpper = old[upperKey];
    const newUpper = current[upperKey];
    if (typeof newUpper === 'number' && (typeof oldUpper !== 'number' || newUpper < oldUpper)) {
      report(ctx, location, `${upperKey} lowered from ${String(oldUpper ?? 'none')} to ${newUpper}`);
    }
  }

  const oldLow = bound(old, 'minimum', 'exclusiveMinimum', true);
  const newLow = bound(current, 'minimum', 'exclusiveMinimum', true);
  if (tighter(oldLow, newLow, true)) {
    report(
      ctx,
      location,
      `lower bound tightened from ${describeBound(oldLow, true)} to ${describeBound(newLow, true)}`,
    );
  }
  const oldHigh = bound(old, 'maximum', 'exclusiveMaximum', false);
  const newHigh = bound(current, 'maximum', 'exclusiveMaximum', false);
  if (tighter(oldHigh, newHigh, false)) {
    report(
      ctx,
      location,
      `upper bound tightened from ${describeBound(oldHigh, false)} to ${describeBound(newHigh, false)}`,
    );
  }

  for (const key of ['pattern', 'format'] as const) {
    const before = old[key];
    const after = current[key];
    if (after !== undefined && after !== before) {
      report(
        ctx,
        location,
        before === undefined
          ? `${key} ${JSON.stringify(after)} added`
          : `${key} changed from ${JSON.stringify(before)} to ${JSON.stringify(after)}`,
      );
    }
  }
  const oldStep = old['multipleOf'];
  const newStep = current['multipleOf'];
  if (typeof newStep === 'number' && (typeof oldStep !== 'number' || oldStep % newStep !== 0)) {
    report(ctx, location, `multipleOf ${newStep} added`);
  }
  if (current['uniqueItems'] === true && old['uniqueItems'] !== true)
    report(ctx, location, 'items must now be unique');
}

function compareObject(ctx: CompareContext, old: JsonObject, current: JsonObject, location: string): void {
  const oldProperties = (old['properties'] ?? {}) as JsonObject;
  const newProperties = (current['properties'] ?? {}) as JsonObject;
  const oldRequired = new Set((old['required'] ?? []) as string[]);
  const newRequired = new Set((current['required'] ?? []) as string[]);

  for (const [name, schema] of Object.entries(oldProperties)) {
    const field = `${location}.${name}`;
    if (!(name in newProperties)) {
      report(ctx, location, `removed field "${name}"`);
      continue;
    }
    if (ctx.direction === 'request' && !oldRequired.has(name) && newRequired.has(name)) {
      report(ctx, location, `field "${name}" became required`);
    }
    if (ctx.direction === 'response' && oldRequired.has(name) && !newRequired.has(name)) {
      report(ctx, location, `field "${name}" is no longer always present`);
    }
    compareSchemas(ctx, schema, newProperties[name]!, field);
  }
  if (ctx.direction === 'request') {
    for (const name of Object.keys(newProperties)) {
      if (!(name in oldProperties) && newRequired.has(name))
        report(ctx, location, `new required field "${name}"`);
    }
  }

  const oldExtra = old['additionalProperties'];
  const newExtra = current['additionalProperties'];
  if (newExtra === false && oldExtra !== false) {
    report(ctx, location, 'no longer accepts fields it does not declare');
  } else if (isJsonObject(oldExtra) && isJsonObject(newExtra)) {
    compareSchemas(ctx, oldExtra, newExtra, `${location}{*}`);
  }
  const oldKeys = old['propertyNames'];
  const newKeys = current['propertyNames'];
  if (newKeys !== undefined) {
    if (oldKeys === undefined) report(ctx, location, 'keys are now restricted');
    else compareSchemas(ctx, oldKeys, newKeys, `${location}{key}`);
  }
}

function compareArray(ctx: CompareContext, old: JsonObject, current: JsonObject, location: string): void {
  const oldItems = old['items'];
  const newItems = current['items'];
  if (newItems !== undefined) {
    if (oldItems === undefined) report(ctx, location, 'items are now restricted');
    else compareSchemas(ctx, oldItems, newItems, `${location}[]`);
  }
  const oldTuple = (old['prefixItems'] ?? []) as JsonValue[];
  const newTuple = (current['prefixItems'] ?? []) as JsonValue[];
  if (oldTuple.length !== newTuple.length) {
    report(ctx, location, `tuple length changed from ${oldTuple.length} to ${newTuple.length}`);
  }
  oldTuple.forEach((item, index) => {
    if (index < newTuple.length) compareSchemas(ctx, item, newTuple[index]!, `${location}[${index}]`);
  });
}

function compareVariant(ctx: CompareContext, old: Variant, current: Variant, location: string): void {
  const where =
    old.component === undefined ? location : enterComponent(ctx, old.component, current.component);
  if (where === undefined || old.kind === 'any') return;
  compareConstraints(ctx, old.schema, current.schema, where);
  if (old.kind === 'object') compareObject(ctx, old.schema, current.schema, where);
  if (old.kind === 'array') compareArray(ctx, old.schema, current.schema, where);
}

/**
 * Marks a component pair as compared in this direction; returns the location to report under (the
 * component's name), or `undefined` when it was compared already.
 */
function enterComponent(ctx: CompareContext, old: string, current: string | undefined): string | undefined {
  const key = `${ctx.direction}|${old}|${current ?? ''}`;
  if (ctx.visited.has(key)) return undefined;
  ctx.visited.add(key);
  return old;
}

/** A property every variant fixes to a different constant, which tells the variants of each side apart. */
function discriminator(sides: Variant[][]): string | undefined {
  const first = sides[0]?.[0];
  if (first === undefined) return undefined;
  const candidates = Object.keys((first.schema['properties'] ?? {}) as JsonObject);
  return candidates.find((name) =>
    sides.every((variants) => {
      const tags = variants.map((variant) => {
        const property = ((variant.schema['properties'] ?? {}) as JsonObject)[name];
        const values = isJsonObject(property) ? allowedValues(property) : undefined;
        return values?.length === 1 ? JSON.stringify(values[0]) : undefined;
      });
      return tags.every((tag) => tag !== undefined) && new Set(tags).size === tags.length;
    }),
  );
}

function tagOf(variant: Variant, key: string): string {
  const property = ((variant.schema['properties'] ?? {}) as JsonObject)[key] as JsonObject;
  return JSON.stringify(allowedValues(property)![0]);
}

function describeKinds(variants: Variant[]): string {
  return [...new Set(variants.map((variant) => variant.kind))].join(' | ');
}

/**
 * Compares two schemas (either may be a `$ref`) at `location`, reporting breaking changes into
 * `ctx.findings`.
 */
export function compareSchemas(
  ctx: CompareContext,
  oldRaw: JsonValue,
  currentRaw: JsonValue,
  at: string,
): void {
  const old = resolve(ctx.baseline, oldRaw);
  const current = resolve(ctx.current, currentRaw);
  const location = old.component === undefined ? at : enterComponent(ctx, old.component, current.component);
  if (location === undefined) return;
  const oldVariants = variantsOf(ctx.baseline, old.schema);
  const newVariants = variantsOf(ctx.current, current.schema);
  if (oldVariants === undefined || newVariants === undefined) {
    if (!isDeepStrictEqual(old.schema, current.schema)) {
      report(ctx, location, 'changed in a way the guard cannot prove compatible');
    }
    return;
  }

  const removed: Variant[] = [];
  const matchedNew = new Set<Variant>();
  const oldObjects = oldVariants.filter((variant) => variant.kind === 'object');
  const newObjects = newVariants.filter((variant) => variant.kind === 'object');
  if (oldObjects.length === 1 && newObjects.length === 1) {
    compareVariant(ctx, oldObjects[0]!, newObjects[0]!, location);
    matchedNew.add(newObjects[0]!);
  } else if (oldObjects.length > 0 && newObjects.length > 0) {
    const key = discriminator([oldObjects, newObjects]);
    if (key === undefined) {
      if (!isDeepStrictEqual(oldObjects, newObjects)) {
        report(ctx, location, 'union members changed in a way the guard cannot prove compatible');
      }
      newObjects.forEach((variant) => matchedNew.add(variant));
    } else {
      for (const variant of oldObjects) {
        const tag = tagOf(variant, key);
        const twin = newObjects.find((candidate) => tagOf(candidate, key) === tag);
        if (twin === undefined) {
          report(ctx, location, `removed the variant with ${key} = ${tag}`);
        } else {
          compareVariant(ctx, variant, twin, `${location}<${key}=${tag}>`);
          matchedNew.add(twin);
        }
      }
      // New discriminated variants are additive: clients skip tags they do not know.
      newObjects.forEach((variant) => matchedNew.add(variant));
    }
  } else {
    removed.push(...oldObjects);
  }

  for (const variant of oldVariants.filter((candidate) => candidate.kind !== 'object')) {
    const twin =
      newVariants.find((candidate) => candidate.kind === variant.kind) ??
      (variant.kind === 'integer'
        ? newVariants.find((candidate) => candidate.kind === 'number')
        : undefined) ??
      newVariants.find((candidate) => candidate.kind === 'any');
    if (twin === undefined) {
      removed.push(variant);
      continue;
    }
    matchedNew.add(twin);
    if (twin.kind !== variant.kind && ctx.direction === 'response') {
      report(ctx, location, `may now be ${twin.kind === 'any' ? 'any JSON value' : 'a non-integer number'}`);
    }
    compareVariant(ctx, variant, twin, location);
  }

  const added = newVariants.filter((variant) => !matchedNew.has(variant));
  if (removed.length > 0 && added.length > 0) {
    report(ctx, location, `type changed from ${describeKinds(removed)} to ${describeKinds(added)}`);
  } else if (removed.length > 0) {
    report(ctx, location, `no longer allows ${describeKinds(removed)}`);
  } else if (added.length > 0 && ctx.direction === 'response') {
    report(ctx, location, `may now be ${describeKinds(added)}`);
  }
}
