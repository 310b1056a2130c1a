import { InvalidRequestError, NotFoundError } from '../errors/agentos-error.ts';
import type { Route } from './api-types.ts';

type CompiledRoute = { route: Route; pattern: RegExp; names: string[] };

/** A match: the route and its decoded path parameters. */
export type RouteMatch = { route: Route; params: Record<string, string> };

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split(/(\{[a-z_]+\})/)
    .map((part) => {
      const name = /^\{([a-z_]+)\}$/.exec(part)?.[1];
      if (name === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(name);
      return '([^/]+?)';
    })
    .join('');
  return { route, pattern: new RegExp(`^${source}$`), names };
}

/** Matches method and path against route templates; path parameters may end in `:verb` suffixes. */
export function createRouter(routes: Route[]): { match(method: string, path: string): RouteMatch } {
  const compiled = routes.map(compile);
  return {
    match(method, path) {
      const normalized = path.length > 1 ? path.replace(/\/+$/, '') : path;
      let pathMatched = false;
      for (const candidate of compiled) {
        const found = candidate.pattern.exec(normalized);
        if (found === null) continue;
        pathMatched = true;
        if (candidate.route.method !== method) continue;
        const params: Record<string, string> = {};
        candidate.names.forEach((name, index) => {
          params[name] = decodeURIComponent(found[index + 1] ?? '');
        });
        return { route: candidate.route, params };
      }
      if (pathMatched) throw new InvalidRequestError(`Method ${method} is not allowed on ${normalized}`);
      throw new NotFoundError(`No route for ${method} ${normalized}`);
    },
  };
}
