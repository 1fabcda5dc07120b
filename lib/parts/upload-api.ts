import { Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { OWNER_VENDOR_INDEX_NAME } from '../../lambdas/core/check';
import { SETTINGS } from '../../lambdas/core/settings/schema';
import type { LivenessAuthorization } from '../authorization';
import { NodeFunction } from './node-function';
import { bucketPrefixWildcardFinding, grantKeyUse } from './storage';

export const CREATE_CHECK_ENTRY = 'lambdas/handlers/create-check.ts';
export const GET_CHECK_ENTRY = 'lambdas/handlers/get-check.ts';
export const DELETE_CHECK_ENTRY = 'lambdas/handlers/delete-check.ts';
/** The one stage the API deploys; callers' URLs and IAM grants name it. */
export const STAGE_NAME = 'prod';

export interface UploadApiProps {
  readonly table: dynamodb.ITable;
  readonly bucket: s3.IBucket;
  /** Key prefix the presigned POST allows, e.g. `uploads/`. */
  readonly uploadPrefix: string;
  readonly uploadUrlTtlSeconds: number;
  readonly defaultDeclineThreshold: number;
  readonly checkRetentionDays: number;
  /** GET returns Didit's age/gender/race estimates (only stored at all when this is on). */
  readonly storeFaceAttributes: boolean;
  /** The bus "Liveness Check Deleted" goes to. */
  readonly eventBus: events.IEventBus;
  readonly architecture: lambda.Architecture;
  /** Steady-state requests per second for the API key (usage plan and stage default). */
  readonly throttlingRateLimit: number;
  /** Burst bucket size for the API key (usage plan and stage default). */
  readonly throttlingBurstLimit: number;
  readonly logRetention: logs.RetentionDays;
  /** Create API Gateway's account-level CloudWatch role (needed once per account and region for stage logging). */
  readonly cloudWatchRole: boolean;
  /** How callers of the check routes authenticate. */
  readonly authorization: LivenessAuthorization;
  /** Memory of both functions, in MiB. */
  readonly memorySize: number;
  /** The client apps; with API keys, one key each (the first keeps the construct id `ApiKey`). */
  readonly clientApps: readonly string[];
  /** Origins whose callback URLs may use a port other than 443. */
  readonly callbackAllowedOrigins: readonly string[];
}

/** Gateway response templates may use $context but not $util; these two render as JSON string literals. */
const CONTEXT_RESPONSE_TYPE = '"$context.error.responseType"';
const CONTEXT_MESSAGE = '$context.error.messageString';

interface GatewayError {
  readonly id: string;
  readonly type: apigateway.ResponseType;
  readonly statusCode: string;
  readonly code: string;
  readonly message: string;
}

/** JSON bodies API Gateway returns when it answers itself (bad key, unknown route, throttling, integration failure). */
function gatewayErrors(authorization: LivenessAuthorization): GatewayError[] {
  const mode = authorization.mode;
  return [
    // API Gateway answers a missing or unknown x-api-key with INVALID_API_KEY (403 by default): it is an
    // authentication failure, so it becomes a 401 the client can act on.
    ...(mode === 'API_KEY'
      ? [
          {
            id: 'InvalidApiKey',
            type: apigateway.ResponseType.INVALID_API_KEY,
            statusCode: '401',
            code: 'UNAUTHORIZED',
            message: 'Missing or invalid API key: send it in the x-api-key header.',
          },
        ]
      : []),
    {
      id: 'Unauthorized',
      type: apigateway.ResponseType.UNAUTHORIZED,
      statusCode: '401',
      code: 'UNAUTHORIZED',
      message: 'The request is not authenticated.',
    },
    {
      id: 'AccessDenied',
      type: apigateway.ResponseType.ACCESS_DENIED,
      statusCode: '403',
      code: 'FORBIDDEN',
      message:
        mode === 'API_KEY' ? 'The API key may not call this resource.' : 'The caller may not call this resource.',
    },
    // REST APIs answer an unknown path or method with MISSING_AUTHENTICATION_TOKEN; to a client that is a 404. With
    // IAM authorization an unsigned request to a real route gets the same response type, so there it stays a 403
    // that names both causes.
    mode === 'IAM'
      ? {
          id: 'UnknownRoute',
          type: apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN,
          statusCode: '403',
          code: 'UNAUTHENTICATED_OR_NOT_FOUND',
          message: 'The request is not signed with AWS SigV4, or no route matches this method and path.',
        }
      : {
          id: 'UnknownRoute',
          type: apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN,
          statusCode: '404',
          code: 'NOT_FOUND',
          message: 'No route matches this method and path.',
        },
    ...COMMON_GATEWAY_ERRORS,
  ];
}

const COMMON_GATEWAY_ERRORS: readonly GatewayError[] = [
  {
    id: 'Throttled',
    type: apigateway.ResponseType.THROTTLED,
    statusCode: '429',
    code: 'THROTTLED',
    message: 'Too many requests: slow down and retry with backoff.',
  },
  {
    id: 'QuotaExceeded',
    type: apigateway.ResponseType.QUOTA_EXCEEDED,
    statusCode: '429',
    code: 'QUOTA_EXCEEDED',
    message: 'The usage quota of this API key is exhausted.',
  },
  // Every other 4xx keeps the status API Gateway chose (400, 413, 415, …) and names its cause, e.g.
  // REQUEST_TOO_LARGE or UNSUPPORTED_MEDIA_TYPE.
  {
    id: 'Default4xx',
    type: apigateway.ResponseType.DEFAULT_4XX,
    statusCode: '',
    code: CONTEXT_RESPONSE_TYPE,
    message: CONTEXT_MESSAGE,
  },
  {
    id: 'Default5xx',
    type: apigateway.ResponseType.DEFAULT_5XX,
    statusCode: '',
    code: 'INTERNAL_ERROR',
    message: 'The service failed to handle the request; retry later.',
  },
];

/** `apiKeyRequired` or the IAM/Cognito settings the two check methods get. */
function checkMethodOptions(
  scope: Construct,
  authorization: LivenessAuthorization,
): Pick<apigateway.MethodOptions, 'apiKeyRequired' | 'authorizationType' | 'authorizer' | 'authorizationScopes'> {
  switch (authorization.mode) {
    case 'API_KEY':
      return { apiKeyRequired: true };
    case 'IAM':
      return { authorizationType: apigateway.AuthorizationType.IAM };
    case 'COGNITO': {
      if (!authorization.userPool) throw new Error('LivenessService: COGNITO authorization needs a user pool');
      const authorizer = new apigateway.CognitoUserPoolsAuthorizer(scope, 'Authorizer', {
        cognitoUserPools: [authorization.userPool],
      });
      // At least one scope, always (LivenessAuthorization.cognito): only access tokens granted it get through.
      return {
        authorizationType: apigateway.AuthorizationType.COGNITO,
        authorizer,
        authorizationScopes: [...authorization.scopes],
      };
    }
  }
}

/**
 * The REST API: `POST /v1/liveness-checks` creates a check and returns a presigned POST for the image,
 * `GET /v1/liveness-checks/{id}` reads it. Every method needs an API key; the key's usage plan throttles it.
 */
export class UploadApi extends Construct {
  public readonly api: apigateway.RestApi;
  /** The first client app's key; only with API key authorization. */
  public readonly apiKey: apigateway.IApiKey | undefined;
  /** Every client app's key, by app; empty without API key authorization. */
  public readonly apiKeys: Readonly<Record<string, apigateway.IApiKey>>;
  /** Only with API key authorization. */
  public readonly usagePlan: apigateway.UsagePlan | undefined;
  public readonly createCheckFunction: NodeFunction;
  public readonly getCheckFunction: NodeFunction;
  public readonly deleteCheckFunction: NodeFunction;

  constructor(scope: Construct, id: string, props: UploadApiProps) {
    super(scope, id);

    this.createCheckFunction = new NodeFunction(this, 'CreateCheck', {
      entry: CREATE_CHECK_ENTRY,
      description: 'POST /v1/liveness-checks: stores a check and signs a presigned POST for its image',
      architecture: props.architecture,
      memorySize: props.memorySize,
      logRetention: props.logRetention,
      environment: {
        [SETTINGS.tableName.env.name]: props.table.tableName,
        [SETTINGS.bucketName.env.name]: props.bucket.bucketName,
        [SETTINGS.uploadPrefix.env.name]: props.uploadPrefix,
        [SETTINGS.uploadUrlTtlSeconds.env.name]: String(props.uploadUrlTtlSeconds),
        [SETTINGS.defaultDeclineThreshold.env.name]: String(props.defaultDeclineThreshold),
        [SETTINGS.checkRetentionDays.env.name]: String(props.checkRetentionDays),
        [SETTINGS.callbackAllowedOrigins.env.name]: props.callbackAllowedOrigins.join(','),
      },
    });
    // Exactly the calls the handler makes: put a check (and an Idempotency-Key record); on a replayed create, read the
    // check and renew its upload (a conditional update). The table's grantWriteData would add Delete/BatchWrite, and
    // the bucket's grantPut would add object tagging, retention and legal hold.
    iam.Grant.addToPrincipal({
      grantee: this.createCheckFunction,
      actions: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resourceArns: [props.table.tableArn],
    });
    // A presigned POST is signed with the function's credentials, so S3 checks s3:PutObject against this role when
    // the client uploads. Keys are per check (uploads/<id>…) and unknown at deploy time, hence the prefix wildcard.
    iam.Grant.addToPrincipal({
      grantee: this.createCheckFunction,
      actions: ['s3:PutObject'],
      resourceArns: [props.bucket.arnForObjects(`${props.uploadPrefix}*`)],
    });
    grantKeyUse(props.table, this.createCheckFunction, 'write');
    // The presigned POST is signed with this role, so S3 asks it for the data key of an SSE-KMS bucket.
    grantKeyUse(props.bucket, this.createCheckFunction, 'write');
    Validations.of(this.createCheckFunction.role ?? this.createCheckFunction).acknowledge({
      id: bucketPrefixWildcardFinding(props.bucket, props.uploadPrefix),
      reason:
        'Presigned POSTs upload to a new key per check under the uploads prefix; the keys cannot be listed at ' +
        'deploy time, so s3:PutObject is scoped to that prefix and nothing else in the bucket.',
    });

    this.getCheckFunction = new NodeFunction(this, 'GetCheck', {
      entry: GET_CHECK_ENTRY,
      description: "GET /v1/liveness-checks/{id} and GET /v1/liveness-checks: the caller's own checks",
      architecture: props.architecture,
      memorySize: props.memorySize,
      logRetention: props.logRetention,
      environment: {
        [SETTINGS.tableName.env.name]: props.table.tableName,
        [SETTINGS.storeFaceAttributes.env.name]: String(props.storeFaceAttributes),
      },
    });
    iam.Grant.addToPrincipal({
      grantee: this.getCheckFunction,
      actions: ['dynamodb:GetItem'],
      resourceArns: [props.table.tableArn],
    });
    // The list reads one index, nothing else.
    iam.Grant.addToPrincipal({
      grantee: this.getCheckFunction,
      actions: ['dynamodb:Query'],
      resourceArns: [`${props.table.tableArn}/index/${OWNER_VENDOR_INDEX_NAME}`],
    });
    grantKeyUse(props.table, this.getCheckFunction, 'read');

    this.deleteCheckFunction = new NodeFunction(this, 'DeleteCheck', {
      entry: DELETE_CHECK_ENTRY,
      description: 'DELETE /v1/liveness-checks/{id}: erases a check (tombstone), its upload, and publishes Deleted',
      architecture: props.architecture,
      memorySize: props.memorySize,
      logRetention: props.logRetention,
      environment: {
        [SETTINGS.tableName.env.name]: props.table.tableName,
        [SETTINGS.bucketName.env.name]: props.bucket.bucketName,
        [SETTINGS.uploadPrefix.env.name]: props.uploadPrefix,
        [SETTINGS.eventBusName.env.name]: props.eventBus.eventBusName,
      },
    });
    // Read the check, replace it with its tombstone (a conditional PutItem), clear the tombstone's outbox flag
    // (UpdateItem); delete the upload (never read or list it); publish the deletion event.
    iam.Grant.addToPrincipal({
      grantee: this.deleteCheckFunction,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      resourceArns: [props.table.tableArn],
    });
    grantKeyUse(props.table, this.deleteCheckFunction, 'write');
    iam.Grant.addToPrincipal({
      grantee: this.deleteCheckFunction,
      actions: ['s3:DeleteObject'],
      resourceArns: [props.bucket.arnForObjects(`${props.uploadPrefix}*`)],
    });
    Validations.of(this.deleteCheckFunction.role ?? this.deleteCheckFunction).acknowledge({
      id: bucketPrefixWildcardFinding(props.bucket, props.uploadPrefix),
      reason:
        'Each check uploads to its own key under the uploads prefix, unknown at deploy time; s3:DeleteObject is ' +
        'scoped to that prefix and nothing else in the bucket.',
    });
    props.eventBus.grantPutEventsTo(this.deleteCheckFunction);

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'Didit passive liveness checks',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      apiKeySourceType: apigateway.ApiKeySourceType.HEADER,
      cloudWatchRole: props.cloudWatchRole,
      // The role is the account's API Gateway logging setting, shared by every API in the region: never delete it.
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      // Routes added later (by the service or by you) inherit API key or IAM authorization; a Cognito authorizer is
      // set per method instead, because the Didit webhook route must stay unauthenticated and API Gateway refuses an
      // override of a default authorizer.
      ...(props.authorization.mode === 'API_KEY' ? { defaultMethodOptions: { apiKeyRequired: true } } : {}),
      ...(props.authorization.mode === 'IAM'
        ? { defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM } }
        : {}),
      deployOptions: {
        stageName: STAGE_NAME,
        tracingEnabled: true,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields({
          caller: false,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: false,
        }),
        // Execution logs for errors only, and never request or response bodies.
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        throttlingRateLimit: props.throttlingRateLimit,
        throttlingBurstLimit: props.throttlingBurstLimit,
      },
    });

    // RestApi always adds an "Endpoint" output with a generated name; the stack publishes the URL as ApiUrl instead,
    // and a construct embedded in someone else's stack should not add outputs of its own.
    this.api.node.tryRemoveChild('Endpoint');

    const integrationOptions: apigateway.LambdaIntegrationOptions = { proxy: true, allowTestInvoke: false };
    const methodOptions = checkMethodOptions(this, props.authorization);
    const checks = this.api.root.addResource('v1').addResource('liveness-checks');
    checks.addMethod(
      'POST',
      new apigateway.LambdaIntegration(this.createCheckFunction, integrationOptions),
      methodOptions,
    );
    const readIntegration = new apigateway.LambdaIntegration(this.getCheckFunction, integrationOptions);
    checks.addMethod('GET', readIntegration, {
      ...methodOptions,
      requestParameters: {
        'method.request.querystring.vendor_data': false,
        'method.request.querystring.limit': false,
        'method.request.querystring.cursor': false,
      },
    });
    const check = checks.addResource('{id}');
    check.addMethod('GET', readIntegration, {
      ...methodOptions,
      requestParameters: { 'method.request.path.id': true },
    });
    check.addMethod('DELETE', new apigateway.LambdaIntegration(this.deleteCheckFunction, integrationOptions), {
      ...methodOptions,
      requestParameters: { 'method.request.path.id': true },
    });

    for (const response of gatewayErrors(props.authorization)) {
      this.api.addGatewayResponse(response.id, {
        type: response.type,
        ...(response.statusCode ? { statusCode: response.statusCode } : {}),
        // Same headers as the handlers' responses (lambdas/handlers/http.ts); values are quoted literals.
        responseHeaders: {
          'Content-Type': "'application/json; charset=utf-8'",
          'Cache-Control': "'no-store'",
          'X-Content-Type-Options': "'nosniff'",
        },
        templates: { 'application/json': errorTemplate(response.code, response.message) },
      });
    }

    if (props.authorization.mode === 'API_KEY') {
      this.usagePlan = this.api.addUsagePlan('UsagePlan', {
        description: 'Throttling for the liveness API keys (per key)',
        throttle: { rateLimit: props.throttlingRateLimit, burstLimit: props.throttlingBurstLimit },
        apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
      });
      const keys: Record<string, apigateway.IApiKey> = {};
      props.clientApps.forEach((app, index) => {
        // The first app keeps the id of the single key earlier versions created, so upgrading does not replace it.
        // Scoped to the RestApi (as addApiKey would) but without stage keys: the usage plan grants the stage, and a
        // stage key would make the key depend on the stage, which depends on the functions that name the key's id.
        const key = new apigateway.ApiKey(this.api, index === 0 ? 'ApiKey' : `ApiKey-${app}`, {
          description:
            `Key of client app "${app}" for the liveness API (its checks are its own); read its value with ` +
            'aws apigateway get-api-key --include-value',
        });
        this.usagePlan?.addApiKey(key);
        keys[app] = key;
      });
      this.apiKeys = keys;
      this.apiKey = keys[props.clientApps[0] ?? ''];
      // API Gateway tells the function which key authorized a call (requestContext.identity.apiKeyId), never the
      // key's name; this map, fixed at deploy time, names the app each key belongs to: the owner of its checks.
      const appKeyIds = Fn.join(
        ',',
        props.clientApps.map((app) => Fn.join('=', [app, (keys[app] as apigateway.IApiKey).keyId])),
      );
      for (const fn of [this.createCheckFunction, this.getCheckFunction, this.deleteCheckFunction]) {
        fn.addEnvironment(SETTINGS.clientAppApiKeyIds.env.name, appKeyIds);
      }
    } else {
      this.usagePlan = undefined;
      this.apiKey = undefined;
      this.apiKeys = {};
      // IAM and Cognito callers own checks by their principal or token: no key belongs to any app.
      for (const fn of [this.createCheckFunction, this.getCheckFunction, this.deleteCheckFunction]) {
        fn.addEnvironment(SETTINGS.clientAppApiKeyIds.env.name, '');
      }
    }

    this.acknowledgeNagFindings(props.cloudWatchRole, props.authorization);
  }

  private acknowledgeNagFindings(cloudWatchRole: boolean, authorization: LivenessAuthorization): void {
    const api = Validations.of(this.api);
    api.acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'Requests are validated in the handlers (one schema shared with the local stack), so malformed input gets ' +
        'the same JSON error shape as every other failure; a gateway model would be a second, drifting copy.',
    });
    api.acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'The API is called server to server by authenticated callers; stage throttling (and, with API keys, the ' +
        'usage plan) bounds abuse. ' +
        'Attach an AWS WAF web ACL to the stage if the account requires one.',
    });
    if (authorization.mode === 'API_KEY') {
      for (const id of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
        api.acknowledge({
          id,
          reason:
            'Callers are the customer back ends, identified by an API key tied to a throttled usage plan; there is ' +
            'no end-user identity for an IAM or Cognito authorizer to check at this layer. Choose ' +
            'LivenessAuthorization.iam() or .cognito() where the account requires one.',
        });
      }
    } else if (authorization.mode === 'IAM') {
      api.acknowledge({
        id: 'AwsSolutions-COG4',
        reason:
          'The check routes use IAM (SigV4) authorization: callers are AWS principals of the customer back end, ' +
          'not users of a Cognito user pool.',
      });
    }
    if (cloudWatchRole) {
      api.acknowledge({
        id:
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/' +
          'AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The account-level API Gateway logging role needs exactly this AWS managed policy; API Gateway assumes it ' +
          'to deliver the access and execution logs required by APIG1 and APIG6.',
      });
    }
  }
}

/** `{"error":{"code":…,"message":…}}`, the same shape the handlers use; context variables are inserted as-is. */
function errorTemplate(code: string, message: string): string {
  const literal = (value: string) => (value.includes('$context.') ? value : JSON.stringify(value));
  return `{"error":{"code":${literal(code)},"message":${literal(message)}}}`;
}
