/** Arguments as the model sent them: a JSON object, or why they are not one. */
export type ParsedArguments = { ok: true; value: Record<string, unknown> } | { ok: false; message: string };

/** Parses a tool call's arguments text; an empty text is an empty object. */
export function parseToolArguments(text: string): ParsedArguments {
  let value: unknown;
  try {
    value = JSON.parse(text.trim() === '' ? '{}' : text);
  } catch {
    return { ok: false, message: 'Tool arguments are not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: 'Tool arguments must be a JSON object' };
  }
  return { ok: true, value: value as Record<string, unknown> };
}
