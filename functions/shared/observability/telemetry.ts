import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** Structured logger, tracer and metrics of one service. */
export type Telemetry = { logger: Logger; tracer: Tracer; metrics: Metrics };

/**
 * Creates the Powertools trio for a service. Metrics are global (no tenant dimension, HLD §9.2);
 * tenant and run ids go into log keys and trace annotations instead.
 */
export function createTelemetry(serviceName: string): Telemetry {
  return {
    logger: new Logger({ serviceName }),
    tracer: new Tracer({ serviceName }),
    metrics: new Metrics({ serviceName, namespace: 'AgentOS' }),
  };
}
