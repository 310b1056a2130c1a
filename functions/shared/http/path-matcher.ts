import { InvalidRequestError } from '../errors/agentos-error.ts';

/** What a matcher needs of a route: its method and path template. */
export type PathTemplate = { method: string; path: string };

/** The outcome of matching one request. */
export type PathMatch<T> =
  | { kind: 'matched'; route: T; params: Record<string, string> }
  /** The path exists, with other methods: answer 405 with `Allow`. */
  | { kind: 'method_not_allowed'; allowed: string[] }
  | { kind: 'not_found' };

type Compiled<T> = { route: T; method: string; pattern: RegExp; names: string[]; rank: number[] };

const parameter = /^\{([a-z_]+)(\+?)\}$/;

function compile<T extends PathTemplate>(route: T): Compiled<T> {
  const names: string[] = [];
  const source = route.path
    .split(/(\{[a-z_]+\+?\})/)
    .map((part) => {
      const param = parameter.exec(part);
      if (param?.[1] === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1]);
      // `{name+}` may span slashes, for values such as model refs that gateways pass decoded.
      return param[2] === '+' ? '(.+?)' : '([^/]+?)';
    })
    .join('');
  return {
    route,
    method: route.method,
    pattern: new RegExp(`^${source}$`),
    names,
    rank: specificity(route.path),
  };
}

/** Per path segment: literal 3, literal with a parameter 2, parameter 1, greedy parameter 0. */
function specificity(path: string): number[] {
  return path
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => {
      if (!segment.includes('{')) return 3;
      if (segment.includes('+}')) return 0;
      return parameter.test(segment) ? 1 : 2;
    });
}

/** Orders templates most specific first, comparing segment by segment as API Gateway does. */
function bySpecificity(a: { rank: number[] }, b: { rank: number[] }): number {
  for (let i = 0; i < Math.max(a.rank.length, b.rank.length); i += 1) {
    const difference = (b.rank[i] ?? -1) - (a.rank[i] ?? -1);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Decodes percent-encoding, refusing malformed sequences (which could name nothing) with a 400. */
export function decodePathPart(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new InvalidRequestError('The request path has malformed percent-encoding', [
      { field: 'path', message: 'malformed percent-encoding' },
    ]);
  }
}

/**
 * Matches a request's method and raw (still percent-encoded) path against route templates such as
 * `/v1/runs/{run_id}:cancel`. Parameters are decoded after matching, so an encoded `/` (`%2F`) stays
 * inside one parameter; `{name+}` parameters may also span literal slashes. A trailing slash is
 * ignored. A path with malformed percent-encoding is refused before any route is considered. As in
 * API Gateway, the most specific template wins whatever the declaration order: segment by segment, a
 * literal beats a parameter, which beats a greedy `{name+}`.
 */
export function createPathMatcher<T extends PathTemplate>(routes: readonly T[]) {
  const compiled = routes.map(compile).sort(bySpecificity);
  return (method: string, rawPath: string): PathMatch<T> => {
    decodePathPart(rawPath);
    const path = rawPath.length > 1 ? rawPath.replace(/\/+$/, '') : rawPath;
    const allowed = new Set<string>();
    for (const candidate of compiled) {
      const found = candidate.pattern.exec(path);
      if (found === null) continue;
      if (candidate.method !== method) {
        allowed.add(candidate.method);
        continue;
      }
      const params: Record<string, string> = {};
      candidate.names.forEach((name, index) => {
        params[name] = decodePathPart(found[index + 1] ?? '');
      });
      return { kind: 'matched', route: candidate.route, params };
    }
    if (allowed.size > 0) return { kind: 'method_not_allowed', allowed: [...allowed].sort() };
    return { kind: 'not_found' };
  };
}
