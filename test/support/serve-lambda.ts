import { startHttpFront } from '../../cli/local/lambda-http-front.ts';
import type { HttpFront } from '../../cli/local/lambda-http-front.ts';
import { installLambdaRuntimeShim } from '../../cli/local/lambda-runtime-shim.ts';

/**
 * Imports a Lambda handler module the way the Lambda runtime would load it: with the `awslambda`
 * global present (streaming handlers call `awslambda.streamifyResponse` at load). Set the env the
 * module's composition root reads BEFORE calling this.
 */
export async function importLambdaHandler(modulePath: string): Promise<unknown> {
  installLambdaRuntimeShim();
  const module = (await import(modulePath)) as { handler?: unknown };
  if (module.handler === undefined) throw new Error(`${modulePath} exports no handler`);
  return module.handler;
}

/** Serves one Lambda handler over real HTTP behind an API Gateway-like front (`/{proxy+}` by default). */
export function serveLambda(options: {
  handler: unknown;
  resource?: string;
  method?: string;
  timeoutSeconds?: number;
}): Promise<HttpFront> {
  return startHttpFront({
    routes: [
      {
        resource: options.resource ?? '/{proxy+}',
        method: options.method ?? 'ANY',
        functionName: 'test',
        timeoutSeconds: options.timeoutSeconds ?? 30,
        handler: options.handler,
      },
    ],
  });
}
