import { InvalidRequestError } from '../../../functions/shared/errors/agentos-error.ts';
import { createPathMatcher } from '../../../functions/shared/http/path-matcher.ts';
import { pathMatcherConformance } from '../../conformance/path-matcher.case.ts';

pathMatcherConformance(
  'createPathMatcher (the HTTP core)',
  (templates) => {
    const match = createPathMatcher(templates);
    return (method, path) => {
      try {
        const found = match(method, path);
        return found.kind === 'matched'
          ? { kind: 'matched', path: found.route.path, params: found.params }
          : found;
      } catch (error) {
        if (error instanceof InvalidRequestError) return { kind: 'bad_request' };
        throw error;
      }
    };
  },
  { methodNotAllowed: true, rejectsMalformedEncoding: true, partialSegmentParameters: true },
);
