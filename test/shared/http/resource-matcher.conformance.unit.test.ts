import { createResourceMatcher } from '../../../cli/local/api-gateway-event.ts';
import { pathMatcherConformance } from '../../conformance/path-matcher.case.ts';

pathMatcherConformance(
  'createResourceMatcher (the local API Gateway front)',
  (templates) => {
    const match = createResourceMatcher(templates.map((t) => ({ method: t.method, resource: t.path })));
    return (method, path) => {
      const found = match(method, path);
      if (found === undefined) return { kind: 'not_found' };
      return { kind: 'matched', path: found.template.resource, params: found.pathParameters };
    };
  },
  {
    methodNotAllowed: '(skipped: API Gateway answers an undeclared method as a missing resource)',
    rejectsMalformedEncoding: '(skipped: API Gateway passes the path on and leaves refusal to the function)',
    partialSegmentParameters: '(skipped: API Gateway resources take whole-segment parameters only)',
  },
);
