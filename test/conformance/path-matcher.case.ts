import { describe, expect, it } from 'vitest';

/** A route template as both matchers spell it: `{name}` one segment, `{name+}` greedy. */
export type TemplateUnderTest = { method: string; path: string };

/** What a matcher answered, normalised so every matcher can be held to one suite. */
export type MatchUnderTest =
  | { kind: 'matched'; path: string; params: Record<string, string> }
  | { kind: 'method_not_allowed'; allowed: string[] }
  | { kind: 'not_found' }
  | { kind: 'bad_request' };

/** Features only some matchers have; a suite case a matcher lacks is skipped with the reason. */
export type MatcherCapabilities = {
  /** Answers a known path with an unknown method as 405 with the allowed methods (else not found). */
  methodNotAllowed: boolean | string;
  /** Refuses malformed percent-encoding (else passes it through undecoded). */
  rejectsMalformedEncoding: boolean | string;
  /** Parameters that share a segment with literal text, such as `{run_id}:cancel`. */
  partialSegmentParameters: boolean | string;
};

type Factory = (templates: TemplateUnderTest[]) => (method: string, path: string) => MatchUnderTest;

const reason = (capability: boolean | string) => (typeof capability === 'string' ? capability : '');

/**
 * The behaviour every path matcher must have, after Hono's router `common.case.test.ts`: one suite,
 * run against each matcher by a three-line test file.
 */
export function pathMatcherConformance(
  name: string,
  factory: Factory,
  capabilities: MatcherCapabilities,
): void {
  describe(`path matcher conformance: ${name}`, () => {
    const get = (template: string) => ({ method: 'GET', path: template });

    it('returns the route of a literal path', () => {
      const match = factory([get('/v1/health'), get('/v1/runs')]);
      expect(match('GET', '/v1/runs')).toEqual({ kind: 'matched', path: '/v1/runs', params: {} });
    });

    it('returns a parameter, decoded after matching so an encoded slash stays inside it', () => {
      const match = factory([get('/v1/runs/{run_id}'), get('/v1/runs/{run_id}/events')]);
      expect(match('GET', '/v1/runs/run_1')).toEqual({
        kind: 'matched',
        path: '/v1/runs/{run_id}',
        params: { run_id: 'run_1' },
      });
      expect(match('GET', '/v1/runs/a%2Fb%20c/events')).toEqual({
        kind: 'matched',
        path: '/v1/runs/{run_id}/events',
        params: { run_id: 'a/b c' },
      });
    });

    it('returns a greedy parameter spanning slashes', () => {
      const match = factory([get('/v1/models/{model+}')]);
      expect(match('GET', '/v1/models/bedrock/anthropic.claude-3')).toEqual({
        kind: 'matched',
        path: '/v1/models/{model+}',
        params: { model: 'bedrock/anthropic.claude-3' },
      });
    });

    it('prefers a literal over a parameter, and a parameter over a greedy one, in any declared order', () => {
      const match = factory([get('/v1/{rest+}'), get('/v1/runs/{run_id}'), get('/v1/runs/search')]);
      expect(match('GET', '/v1/runs/search')).toMatchObject({ path: '/v1/runs/search' });
      expect(match('GET', '/v1/runs/run_1')).toMatchObject({ path: '/v1/runs/{run_id}' });
      expect(match('GET', '/v1/runs/run_1/x')).toMatchObject({ path: '/v1/{rest+}' });
    });

    it('returns not found for an unknown path, a prefix of a route, or one segment too many', () => {
      const match = factory([get('/v1/runs/{run_id}')]);
      expect(match('GET', '/v2/runs/r')).toEqual({ kind: 'not_found' });
      expect(match('GET', '/v1')).toEqual({ kind: 'not_found' });
      expect(match('GET', '/v1/runs/r/extra')).toEqual({ kind: 'not_found' });
    });

    it('treats regular-expression characters in a template literally', () => {
      const match = factory([get('/v1/a.b'), get('/v1/c(d)')]);
      expect(match('GET', '/v1/aXb')).toEqual({ kind: 'not_found' });
      expect(match('GET', '/v1/c(d)')).toMatchObject({ kind: 'matched', path: '/v1/c(d)' });
    });

    it('chooses among several methods on one path', () => {
      const match = factory([get('/v1/items/{id}'), { method: 'DELETE', path: '/v1/items/{id}' }]);
      expect(match('DELETE', '/v1/items/i')).toMatchObject({ kind: 'matched', params: { id: 'i' } });
      expect(match('GET', '/v1/items/i')).toMatchObject({ kind: 'matched', params: { id: 'i' } });
    });

    it.skipIf(capabilities.methodNotAllowed !== true)(
      `returns 405 with the allowed methods for a known path ${reason(capabilities.methodNotAllowed)}`,
      () => {
        const match = factory([get('/v1/runs'), { method: 'POST', path: '/v1/runs' }]);
        expect(match('DELETE', '/v1/runs')).toEqual({ kind: 'method_not_allowed', allowed: ['GET', 'POST'] });
      },
    );

    it.skipIf(capabilities.methodNotAllowed === true)(
      'returns not found for a known path with an unknown method',
      () => {
        const match = factory([get('/v1/runs')]);
        expect(match('DELETE', '/v1/runs')).toEqual({ kind: 'not_found' });
      },
    );

    it.skipIf(capabilities.rejectsMalformedEncoding !== true)(
      `refuses malformed percent-encoding ${reason(capabilities.rejectsMalformedEncoding)}`,
      () => {
        const match = factory([get('/v1/runs/{run_id}')]);
        expect(match('GET', '/v1/runs/%E0%A4%A')).toEqual({ kind: 'bad_request' });
        expect(match('GET', '/v1/nothing/%ZZ')).toEqual({ kind: 'bad_request' });
      },
    );

    it.skipIf(capabilities.partialSegmentParameters !== true)(
      `returns a parameter that shares its segment with literal text ${reason(capabilities.partialSegmentParameters)}`,
      () => {
        const match = factory([
          get('/v1/runs/{run_id}'),
          { method: 'POST', path: '/v1/runs/{run_id}:cancel' },
        ]);
        expect(match('POST', '/v1/runs/run_1:cancel')).toEqual({
          kind: 'matched',
          path: '/v1/runs/{run_id}:cancel',
          params: { run_id: 'run_1' },
        });
      },
    );
  });
}
