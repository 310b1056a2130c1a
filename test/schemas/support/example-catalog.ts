import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { z } from 'zod';
import { apiDocumentSpecs } from '../../../cli/schemas/api-documents.ts';
import type { JsonObject, JsonValue } from '../../../cli/schemas/json-value.ts';
import { openApiPath } from '../../../cli/schemas/openapi-builder.ts';
import { documentFileName, examplesDir, schemasDir } from '../../../cli/schemas/schema-paths.ts';
import { eventTypes, RunEventSchema } from '../../../functions/orchestrator/schemas/event.ts';
import { errorCodes } from '../../../functions/shared/errors/agentos-error.ts';
import { ErrorEnvelopeSchema } from '../../../functions/shared/errors/error-envelope.ts';

/**
 * Which example files must exist under schemas/examples/ and what each must validate against: the
 * zod schema the code uses, and the schema node of the committed OpenAPI document.
 */
export type ExampleTarget = {
  /** Relative to schemas/examples/, e.g. `orchestrator/createRun.request.json`. */
  file: string;
  direction: 'request' | 'response';
  zod: z.ZodType;
  /** The committed document the example is checked against. */
  document: string;
  /** JSON Pointer (without `#`) of the schema in that document. */
  pointer: string;
  /** The file holds a JSON array of `text/event-stream` data payloads, each checked on its own. */
  stream: boolean;
  /** A field whose value must equal what the file name says, e.g. an event's type. */
  named?: { read: (value: JsonObject) => unknown; expected: string };
};

function escape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Every example the APIs call for. */
export function expectedExamples(): ExampleTarget[] {
  const targets: ExampleTarget[] = [];
  for (const spec of apiDocumentSpecs) {
    for (const operation of spec.operations) {
      const at = `/paths/${escape(openApiPath(operation.path))}/${operation.method.toLowerCase()}`;
      const body = operation.request?.body;
      if (body !== undefined) {
        targets.push({
          file: `${spec.name}/${operation.operationId}.request.json`,
          direction: 'request',
          zod: body,
          document: spec.name,
          pointer: `${at}/requestBody/content/application~1json/schema`,
          stream: false,
        });
      }
      for (const [status, response] of Object.entries(operation.responses)) {
        for (const [mediaType, content] of Object.entries(response.content ?? {})) {
          const stream = mediaType === 'text/event-stream';
          targets.push({
            file: `${spec.name}/${operation.operationId}.response-${status}${stream ? '.stream' : ''}.json`,
            direction: 'response',
            zod: content.schema,
            document: spec.name,
            pointer: `${at}/responses/${status}/content/${escape(mediaType)}/schema`,
            stream,
          });
        }
      }
    }
  }
  for (const type of eventTypes) {
    targets.push({
      file: `orchestrator/events/${type}.json`,
      direction: 'response',
      zod: RunEventSchema,
      document: 'orchestrator',
      pointer: '/components/schemas/RunEvent',
      stream: false,
      named: { read: (value) => value['type'], expected: type },
    });
  }
  for (const code of errorCodes) {
    targets.push({
      file: `errors/${code}.json`,
      direction: 'response',
      zod: ErrorEnvelopeSchema,
      document: 'orchestrator',
      pointer: '/components/schemas/ErrorEnvelope',
      stream: false,
      named: { read: (value) => (value['error'] as JsonObject)['code'], expected: code },
    });
  }
  return targets;
}

/** Every file under schemas/examples/, relative to it. */
export function exampleFiles(dir = examplesDir): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(examplesDir, join(entry.parentPath, entry.name)))
    .sort();
}

export function readExample(file: string): JsonValue {
  return JSON.parse(readFileSync(join(examplesDir, file), 'utf8')) as JsonValue;
}

/** The committed OpenAPI document of an API. */
export function committedDocument(name: string): JsonObject {
  return JSON.parse(readFileSync(join(schemasDir, documentFileName(name)), 'utf8')) as JsonObject;
}

/** The node at a JSON Pointer. */
export function nodeAt(document: JsonObject, pointer: string): JsonValue {
  let current: JsonValue = document;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const next: JsonValue | undefined = (current as JsonObject)[segment];
    if (next === undefined) throw new Error(`Nothing at ${pointer} (missing ${segment})`);
    current = next;
  }
  return current;
}
