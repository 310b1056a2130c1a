import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  SecurityPolicy,
  MethodLoggingLevel,
  ResponseTransferMode,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { defaultLogRetention } from '../config/node-settings.ts';
import type { FederationMtlsSettings } from '../config/node-settings.ts';
import {
  apiRoutes,
  functionDefinitions,
  gatewayResponseBody,
  restApiDefinition,
} from '../resources/definitions.ts';
import type { FunctionName } from '../resources/definitions.ts';

/** Which of the node's REST APIs. */
export type ServiceApiName = keyof typeof apiRoutes;

export type ServiceRestApiProps = {
  api: ServiceApiName;
  restApiName: string;
  functions: Record<FunctionName, IFunction>;
  /** How long the API's access and execution logs are kept; the node's default when absent. */
  logRetention?: RetentionDays;
  /** What `cdk destroy` does with those logs; kept when absent, as a production node's logs are. */
  removalPolicy?: RemovalPolicy;
  /** Steady-state requests per second the stage accepts; `defaultStageThrottling` when absent. */
  throttlingRateLimit?: number;
  /** Requests the stage accepts at once above the rate; `defaultStageThrottling` when absent. */
  throttlingBurstLimit?: number;
  /**
   * Serve the API only on this custom domain, with mutual TLS against the truststore: the default
   * `execute-api` endpoint is disabled, so no client reaches the API without a trusted certificate.
   */
  mutualTls?: FederationMtlsSettings;
};

/** The stage every AgentOS API is deployed to; routes carry their own `/v1` version prefix. */
const stageName = 'prod';

/**
 * Each stage's request limits. Well under the account's regional API Gateway quota (10,000 rps,
 * 5,000 burst), so one node's API cannot take all of it from the account's other APIs, nor all of
 * the account's Lambda concurrency; fairness between tenants is the services' job (budgets).
 */
export const defaultStageThrottling = { rateLimit: 1000, burstLimit: 500 } as const;

/**
 * One JSON object per request in the access log, every value quoted so that an absent one (`-`)
 * still parses. `request_id` is the `correlation_id` of the API's gateway responses.
 */
const accessLogFormat = AccessLogFormat.custom(
  JSON.stringify({
    request_id: AccessLogField.contextRequestId(),
    extended_request_id: AccessLogField.contextExtendedRequestId(),
    request_time_epoch_ms: AccessLogField.contextRequestTimeEpoch(),
    source_ip: AccessLogField.contextIdentitySourceIp(),
    http_method: AccessLogField.contextHttpMethod(),
    resource_path: AccessLogField.contextResourcePath(),
    protocol: AccessLogField.contextProtocol(),
    status: AccessLogField.contextStatus(),
    response_length: AccessLogField.contextResponseLength(),
    response_latency_ms: AccessLogField.contextResponseLatency(),
    integration_status: AccessLogField.contextIntegrationStatus(),
    integration_latency_ms: AccessLogField.contextIntegrationLatency(),
    error_type: AccessLogField.contextErrorResponseType(),
    xray_trace_id: AccessLogField.contextXrayTraceId(),
  }),
);

/**
 * One service's REST API (API Gateway v1), with the routes of `apiRoutes`. Routes to a streaming
 * function use the STREAM response transfer mode (Lambda response streaming, up to the function's
 * timeout); the others are buffered and bounded by API Gateway's 29 s. The stage is traced,
 * throttled, writes a JSON access log and its errors to log groups with a retention.
 *
 * Access and execution logging need the account's API Gateway CloudWatch Logs role (set once per
 * account and region, in API Gateway's settings); the node does not set it, since it is shared by
 * every API in the account.
 */
export class ServiceRestApi extends Construct {
  readonly restApi: RestApi;
  private readonly mutualTls: FederationMtlsSettings | undefined;

  constructor(scope: Construct, id: string, props: ServiceRestApiProps) {
    super(scope, id);
    this.mutualTls = props.mutualTls;
    const logRetention = props.logRetention ?? defaultLogRetention;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: logRetention, removalPolicy });
    this.restApi = new RestApi(this, 'Api', {
      restApiName: props.restApiName,
      endpointTypes: [EndpointType.REGIONAL],
      // The account-level API Gateway logging role is an account concern, not a node's.
      cloudWatchRole: false,
      deployOptions: {
        stageName,
        tracingEnabled: true,
        metricsEnabled: true,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat,
        // Errors only, and never request or response bodies: those hold prompts, completions and
        // bearer tokens. The access log and the functions' own logs cover every request.
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        throttlingRateLimit: props.throttlingRateLimit ?? defaultStageThrottling.rateLimit,
        throttlingBurstLimit: props.throttlingBurstLimit ?? defaultStageThrottling.burstLimit,
      },
      binaryMediaTypes: [...restApiDefinition.binaryMediaTypes],
      ...(props.mutualTls === undefined
        ? {}
        : {
            // The mutual TLS is the custom domain's alone: left open, the default endpoint would bypass it.
            disableExecuteApiEndpoint: true,
            domainName: {
              domainName: props.mutualTls.domainName,
              certificate: Certificate.fromCertificateArn(
                this,
                'Certificate',
                props.mutualTls.certificateArn,
              ),
              endpointType: EndpointType.REGIONAL,
              securityPolicy: SecurityPolicy.TLS_1_2,
              mtls: {
                bucket: Bucket.fromBucketName(this, 'Truststore', props.mutualTls.truststore.bucket),
                key: props.mutualTls.truststore.key,
                ...(props.mutualTls.truststore.version === undefined
                  ? {}
                  : { version: props.mutualTls.truststore.version }),
              },
            },
          }),
    });
    // API Gateway creates its execution log group on first use, kept forever; created here first,
    // it gets the node's retention and goes with the stack.
    const executionLogs = new LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.restApi.restApiId}/${stageName}`,
      retention: logRetention,
      removalPolicy,
    });
    this.restApi.deploymentStage.node.addDependency(executionLogs);
    Validations.of(this.restApi).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'Every body reaches the function as exact bytes (all media types are binary) and each route ' +
        "validates it with the service's own zod schema, answering in the API's error envelope; " +
        "API Gateway's model validation would be a second copy of those schemas with its own error format, " +
        'and the local node, which runs the same handlers without API Gateway, would not apply it.',
    });
    Validations.of(this.restApi.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'The stage is throttled and every protected route verifies a JWT in its function; whether to put ' +
        "a WAF web ACL (a cost and rule set of its own) in front of a node is the operator's choice, " +
        'associated with the stage outside the node stack.',
    });

    for (const response of restApiDefinition.gatewayResponses) {
      this.restApi.addGatewayResponse(response.type, {
        type: ResponseType.of(response.type),
        ...('statusCode' in response ? { statusCode: String(response.statusCode) } : {}),
        templates: { 'application/json': gatewayResponseBody(response, '$context.requestId') },
      });
    }
    const authenticatedInFunction =
      'AgentOS authenticates in the function, on a deployed and a local node alike: it verifies the ' +
      "bearer JWT (signature against its trusted issuer's JWKS, audience, lifetime) and builds the Auth " +
      'Context (tenant, principal, scopes) from its claims. A REST API offers only Cognito (nodes trust ' +
      'any OIDC issuer) or a Lambda authorizer (a second verification of every token, in another ' +
      "invocation). The health probes and the node's public JWKS, served by the same API, are open by design.";
    for (const route of apiRoutes[props.api]) {
      const definition = functionDefinitions[route.function];
      const integration = new LambdaIntegration(
        props.functions[route.function],
        definition.streaming
          ? {
              proxy: true,
              responseTransferMode: ResponseTransferMode.STREAM,
              timeout: Duration.seconds(definition.timeoutSeconds),
            }
          : { proxy: true, responseTransferMode: ResponseTransferMode.BUFFERED },
      );
      const method = this.restApi.root.resourceForPath(route.resource).addMethod(route.method, integration);
      Validations.of(method).acknowledge(
        { id: 'AwsSolutions-APIG4', reason: authenticatedInFunction },
        { id: 'AwsSolutions-COG4', reason: authenticatedInFunction },
      );
    }
  }

  /** The API's base URL, ending in `/`: the custom domain's when mutual TLS is on. */
  get url(): string {
    return this.mutualTls === undefined ? this.restApi.url : `https://${this.mutualTls.domainName}/`;
  }
}
