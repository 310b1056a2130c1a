import { InvalidRequestError, NotFoundError } from '../errors/agentos-error.ts';
import type { Route } from './api-types.ts';

type CompiledRoute = { route: Route; pattern: RegExp; names: string[] };

/** A match: the route and its decoded path parameters. */
export type RouteMatch = { route: Route; params: Record<string, string> };

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split(/(\{[a-z_]+\+?\})/)
    .map((part) => {
      const param = /^\{([a-z_]+)(\+?)\}$/.exec(part);
      if (param?.[1] === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1]);
      // `{name+}` may span slashes, for values such as model refs that gateways pass decoded.
      return param[2] === '+' ? '(.+?)' : '([^/]+?)';
    })
    .join('');
  return { route, pattern: new RegExp(`^${source}$`), names };
}

/**
 * Matches method and path against route templates such as `/v1/runs/{run_id}:cancel`; parameters are
 * URL-decoded, and `{name+}` parameters may contain slashes.
 */
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
