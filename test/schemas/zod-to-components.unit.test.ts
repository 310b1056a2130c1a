import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { convertZodSchemas } from '../../cli/schemas/zod-to-components.ts';

describe('converting zod schemas to OpenAPI components', () => {
  it('references a named schema as a component wherever it is used', () => {
    const Color = z.enum(['red', 'green']).meta({ id: 'Color' });
    const Request = z.strictObject({ color: Color }).meta({ id: 'PaintRequest' });
    const Response = z.strictObject({ colors: z.array(Color) }).meta({ id: 'Palette' });
    const converted = convertZodSchemas([Request], [Response]);

    expect(converted.schemaOf(Request, 'input')).toEqual({ $ref: '#/components/schemas/PaintRequest' });
    expect(converted.components['Palette']?.['properties']).toEqual({
      colors: { type: 'array', items: { $ref: '#/components/schemas/Color' } },
    });
    expect(Object.keys(converted.components).sort()).toEqual(['Color', 'PaintRequest', 'Palette']);
  });

  it('names the response form <id>Output when a default makes it differ, and splits what uses it', () => {
    const Settings = z.strictObject({ retries: z.number().int().default(3) }).meta({ id: 'Settings' });
    const Job = z.strictObject({ settings: Settings }).meta({ id: 'Job' });
    const converted = convertZodSchemas([Job], [Job]);

    expect(converted.components['Settings']?.['required']).toBeUndefined();
    expect(converted.components['SettingsOutput']?.['required']).toEqual(['retries']);
    expect(converted.schemaOf(Job, 'input')).toEqual({ $ref: '#/components/schemas/Job' });
    expect(converted.schemaOf(Job, 'output')).toEqual({ $ref: '#/components/schemas/JobOutput' });
    expect(converted.components['JobOutput']?.['properties']).toEqual({
      settings: { $ref: '#/components/schemas/SettingsOutput' },
    });
  });

  it('refuses a recursive schema without a public name', () => {
    type Node = { children: Node[] };
    const Node: z.ZodType<Node> = z.strictObject({ children: z.array(z.lazy(() => Node)) });
    expect(() => convertZodSchemas([], [z.strictObject({ root: Node })])).toThrow(/no public name/);
  });
});
