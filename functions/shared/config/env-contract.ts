import { z } from 'zod';
import { ConfigurationError } from '../errors/agentos-error.ts';
import type { EnvSource } from './env.ts';

/**
 * One environment variable: a schema from its raw text (`undefined` when unset or blank) to the
 * typed value a composition root uses.
 */
export type EnvVariable<T = unknown> = z.ZodType<T, string | undefined>;

/** The variables of one contract, by name. */
export type EnvSpec = Record<string, EnvVariable>;

/** The typed values a contract parses to. */
export type EnvValues<S extends EnvSpec> = { [K in keyof S]: z.output<S[K]> };

/**
 * The environment of one Lambda function, declared once: its composition root parses it, and the CDK
 * stack, the local node and the bundle-load probe render it, so every variable name is written here
 * and nowhere else.
 */
export type EnvContract<S extends EnvSpec> = {
  readonly variables: S;
  /** Each variable's name, for the rare caller that must name one (e.g. `addEnvironment`). */
  readonly names: { readonly [K in keyof S]: K };
  /** The variables without a default: a deployment must set each. */
  readonly required: readonly string[];
  /** Parses and validates `env`, throwing one {@link ConfigurationError} that names every bad variable. */
  parse(env?: EnvSource): EnvValues<S>;
  /** The variables to set for the given values, leaving out the ones not given. */
  render(values: { readonly [K in keyof S]?: string }): Record<string, string>;
  /** A contract with these variables as well. */
  extend<T extends EnvSpec>(more: T): EnvContract<Omit<S, keyof T> & T>;
};

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const [name, ...path] = issue.path.map(String);
      const where = path.length === 0 ? '' : ` at ${path.join('.')}`;
      return `${name ?? 'environment'}${where}: ${issue.message}`;
    })
    .join('; ');
}

/** Declares a function's environment contract. */
export function defineEnvContract<S extends EnvSpec>(variables: S): EnvContract<S> {
  const schema = z.object(variables);
  const names = Object.fromEntries(Object.keys(variables).map((name) => [name, name])) as {
    readonly [K in keyof S]: K;
  };
  // Computed on first read: nothing at run time asks, and a function's cold start builds every
  // contract it imports (extensions included).
  let required: readonly string[] | undefined;
  return {
    variables,
    names,
    get required() {
      required ??= Object.entries(variables)
        .filter(([, variable]) => !variable.safeParse(undefined).success)
        .map(([name]) => name);
      return required;
    },
    parse(env = process.env) {
      // Blank counts as unset, as a template that renders an empty value means "not configured".
      const raw = Object.fromEntries(
        Object.keys(variables).map((name) => {
          const value = env[name];
          return [name, value === undefined || value.trim() === '' ? undefined : value];
        }),
      );
      // Without zod's compiled fast path: an environment is parsed once per cold start, where
      // compiling a parser for the whole object (several ms per contract) never pays back.
      const result = schema.safeParse(raw, { jitless: true });
      if (result.success) return result.data as EnvValues<S>;
      throw new ConfigurationError(`Invalid environment: ${describeIssues(result.error)}`);
    },
    render(values) {
      const rendered: Record<string, string> = {};
      for (const [name, value] of Object.entries(values)) {
        if (value !== undefined) rendered[name] = value;
      }
      return rendered;
    },
    extend(more) {
      return defineEnvContract({ ...variables, ...more } as Omit<S, keyof typeof more> & typeof more);
    },
  };
}

/** Builders for the kinds of variables AgentOS reads. */
export const envVar = {
  /** A required, non-blank string. */
  string(): EnvVariable<string> {
    return z.string({ error: 'is required' });
  },
  /** A string that may be unset. */
  optionalString(): EnvVariable<string | undefined> {
    return z.string().optional();
  },
  /** A required absolute URL. */
  url(): EnvVariable<string> {
    return z.url({ error: 'must be an absolute URL' });
  },
  /** An absolute URL that may be unset. */
  optionalUrl(): EnvVariable<string | undefined> {
    return z.url({ error: 'must be an absolute URL' }).optional();
  },
  /**
   * An integer within `[min, max]`, required unless it has a default; anything else is refused rather
   * than clamped, so a typo shows at start-up instead of as a silently different setting.
   */
  int(options: { default?: number; min: number; max?: number }): EnvVariable<number> {
    const max = options.max ?? Number.MAX_SAFE_INTEGER;
    return z
      .string()
      .optional()
      .transform((raw, context) => {
        if (raw === undefined) {
          if (options.default !== undefined) return options.default;
          context.addIssue({ code: 'custom', message: 'is required' });
          return z.NEVER;
        }
        const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
        if (!Number.isSafeInteger(value) || value < options.min || value > max) {
          const range = options.max === undefined ? `at least ${options.min}` : `${options.min}…${max}`;
          context.addIssue({ code: 'custom', message: `must be an integer ${range}, got "${raw}"` });
          return z.NEVER;
        }
        return value;
      });
  },
  /** JSON text validated by `schema`; the issue names the place inside the document. */
  json<T>(schema: z.ZodType<T>): EnvVariable<T> {
    return z
      .string()
      .transform((raw, context) => {
        try {
          return JSON.parse(raw) as unknown;
        } catch {
          context.addIssue({ code: 'custom', message: 'is not valid JSON' });
          return z.NEVER;
        }
      })
      .pipe(schema);
  },
};
