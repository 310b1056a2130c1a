import { Duration, Validations } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { Construct } from 'constructs';

/** The header that marks a request as the node's scheduled health probe, so logs can tell it apart. */
export const healthProbeHeader = 'x-agentos-health-probe';

/**
 * `GET /v1/health` as API Gateway would hand it to an API function: what the scheduled probe sends.
 * The health route takes no token, so the event carries none.
 */
export function healthProbeEvent(): APIGatewayProxyEvent {
  return {
    resource: '/{proxy+}',
    path: '/v1/health',
    httpMethod: 'GET',
    headers: { host: 'health-probe.agentos.internal', [healthProbeHeader]: 'scheduled' },
    multiValueHeaders: {
      host: ['health-probe.agentos.internal'],
      [healthProbeHeader]: ['scheduled'],
    },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { proxy: 'v1/health' },
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { requestId: 'health-probe' } as APIGatewayProxyEvent['requestContext'],
  };
}

/** What the probe checks, and how often. */
export type HealthProbeProps = {
  /** The API functions whose health route the probe calls. */
  functions: IFunction[];
  /** How often; once a minute by default, the `service_down` alarm's period. */
  every?: Duration;
};

/**
 * A schedule that calls each API function's health route (HLD §9.3 "service down"): a node with no
 * traffic still publishes `HealthyChecks`, so the `service_down` alarm, which counts a period
 * without a successful check as down, fires only when a function really cannot answer. The probe
 * reaches the function directly (API Gateway itself is watched by its own metrics).
 */
export class HealthProbe extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: HealthProbeProps) {
    super(scope, id);
    this.rule = new Rule(this, 'Schedule', {
      description: 'Calls the API functions’ health route so the service_down alarm has its signal',
      schedule: Schedule.rate(props.every ?? Duration.minutes(1)),
    });
    for (const target of props.functions) {
      this.rule.addTarget(
        new LambdaFunction(target, {
          event: RuleTargetInput.fromObject(healthProbeEvent()),
          // A missed probe is the signal itself: never retried late into another period.
          retryAttempts: 0,
        }),
      );
    }
    Validations.of(this.rule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason:
        'A health probe that could not be delivered is the very signal the service_down alarm reads (no ' +
        'HealthyChecks in the period); a dead-letter queue of stale probes would hold nothing to act on.',
    });
  }
}
