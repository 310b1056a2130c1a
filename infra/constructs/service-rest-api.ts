import { Duration } from 'aws-cdk-lib';
import {
  EndpointType,
  LambdaIntegration,
  ResponseTransferMode,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
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
};

/** The stage every AgentOS API is deployed to; routes carry their own `/v1` version prefix. */
const stageName = 'prod';

/**
 * One service's REST API (API Gateway v1), with the routes of `apiRoutes`. Routes to a streaming
 * function use the STREAM response transfer mode (Lambda response streaming, up to the function's
 * timeout); the others are buffered and bounded by API Gateway's 29 s.
 */
export class ServiceRestApi extends Construct {
  readonly restApi: RestApi;

  constructor(scope: Construct, id: string, props: ServiceRestApiProps) {
    super(scope, id);
    this.restApi = new RestApi(this, 'Api', {
      restApiName: props.restApiName,
      endpointTypes: [EndpointType.REGIONAL],
      // The account-level API Gateway logging role is an account concern, not a node's.
      cloudWatchRole: false,
      deployOptions: { stageName, tracingEnabled: true, metricsEnabled: true },
      binaryMediaTypes: [...restApiDefinition.binaryMediaTypes],
    });
    for (const response of restApiDefinition.gatewayResponses) {
      this.restApi.addGatewayResponse(response.type, {
        type: ResponseType.of(response.type),
        ...('statusCode' in response ? { statusCode: String(response.statusCode) } : {}),
        templates: { 'application/json': gatewayResponseBody(response, '$context.requestId') },
      });
    }
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
      this.restApi.root.resourceForPath(route.resource).addMethod(route.method, integration);
    }
  }

  /** The API's base URL, ending in `/`. */
  get url(): string {
    return this.restApi.url;
  }
}
