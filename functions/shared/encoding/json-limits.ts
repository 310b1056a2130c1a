/**
 * Bounds on JSON that comes from outside. Every input AgentOS walks recursively (validation,
 * canonical hashing, redaction) is first held to these, so no client can make a walk overflow the
 * stack or store text DynamoDB refuses.
 */

/** The deepest nesting of arrays and objects accepted in a request. */
export const maxJsonDepth = 64;

/** Why a JSON value was refused. */
export type JsonShapeProblem = { kind: 'too_deep'; path: string } | { kind: 'lone_surrogate'; path: string };

/**
 * Finds the first place where `value` nests deeper than `maxDepth` or holds a string (or object key)
 * with a lone UTF-16 surrogate, which is not Unicode text and cannot be stored or sent on. Iterative,
 * so the check itself cannot overflow the stack.
 */
export function findJsonShapeProblem(value: unknown, maxDepth = maxJsonDepth): JsonShapeProblem | undefined {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const current = stack.pop()!;
    const { value: item, depth, path } = current;
    if (typeof item === 'string') {
      if (!item.isWellFormed()) return { kind: 'lone_surrogate', path };
      continue;
    }
    if (item === null || typeof item !== 'object') continue;
    if (depth >= maxDepth) return { kind: 'too_deep', path };
    if (Array.isArray(item)) {
      item.forEach((member, index) =>
        stack.push({
          value: member,
          depth: depth + 1,
          path: path === '' ? String(index) : `${path}.${index}`,
        }),
      );
      continue;
    }
    for (const [key, member] of Object.entries(item as Record<string, unknown>)) {
      const memberPath = path === '' ? key : `${path}.${key}`;
      if (!key.isWellFormed()) return { kind: 'lone_surrogate', path: memberPath };
      stack.push({ value: member, depth: depth + 1, path: memberPath });
    }
  }
  return undefined;
}
