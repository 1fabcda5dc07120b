import { Duration, Fn, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { type BackoffSchedule, capsForHorizon } from '../../lambdas/core/backoff';
import { DIDIT_SESSION_INDEX_NAME } from '../../lambdas/core/check';
import { WEBHOOK_DELIVERY_PATTERN } from '../../lambdas/core/check-events';
import { SETTINGS } from '../../lambdas/core/settings/schema';
import type { LivenessAuthorization } from '../authorization';
import { acknowledgeFinding } from '../profile/acknowledgements';
import { NodeFunction } from './node-function';
import { acknowledgeTaskInvokeGrants } from './retry-workflow';
import { grantKeyUse } from './storage';

export const DELIVER_WEBHOOK_ENTRY = 'lambdas/handlers/deliver-webhook.ts';
export const DIDIT_WEBHOOK_ENTRY = 'lambdas/handlers/didit-webhook.ts';
/** The Didit route in a resource policy's short form (`execute-api:/<stage>/<method>/<path>`). */
export const DIDIT_WEBHOOK_POLICY_RESOURCE = 'execute-api:/*/POST/v1/webhooks/didit';

/** State names are part of the contract with the local runner and the tests. */
export const DELIVERY_STATES = {
  prepare: 'Prepare',
  skip: 'SkipOrDeliver',
  backoff: 'Backoff',
  wait: 'Wait',
  attempt: 'Deliver',
  next: 'AfterDelivery',
  report: 'ReportFailure',
  done: 'Done',
} as const;

export interface WebhooksProps {
  readonly table: dynamodb.ITable;
  /**
   * Where a check event EventBridge could not hand to the delivery workflow (Step Functions refused it for 24 h) is
   * kept, instead of being dropped.
   */
  readonly undeliveredEvents: sqs.IQueue;
  readonly eventBus: events.IEventBus;
  readonly api: apigateway.RestApi;
  readonly architecture: lambda.Architecture;
  readonly logRetention: logs.RetentionDays;
  /** How long one delivery keeps retrying. */
  readonly horizon: Duration;
  readonly backoff: BackoffSchedule;
  /** Didit's webhook `secret_shared_key`. @default - a new secret, to be set after deploy */
  readonly diditWebhookSecret?: secretsmanager.ISecret;
  /** The `whsec_…` signing secret(s) for callbacks. @default - a new secret generated at deploy */
  readonly signingSecret?: secretsmanager.ISecret;
  /** Memory of both functions, in MiB. @default 256 */
  readonly memorySize?: number;
  /** Source addresses allowed to call the Didit route; `*` alone: anyone. @default ['*'] */
  readonly diditWebhookSourceIps?: readonly string[];
  /** How the check routes authenticate: decides what else a resource policy must allow. @default - API key */
  readonly authorization?: LivenessAuthorization;
  /**
   * The client apps: with API key authorization each gets its own signing secret (the first one is `signingSecret`).
   * @default ['default']
   */
  readonly clientApps?: readonly string[];
  /** Origins whose callback URLs may use a port other than 443. @default [] */
  readonly callbackAllowedOrigins?: readonly string[];
}

/**
 * The webhook echo in both directions. Out: every check event with a callback starts a Standard execution that POSTs
 * the signed payload to the check's callback_url, retrying with FULL-jitter backoff for the horizon and reporting
 * "Liveness Webhook Delivery Failed" when it gives up. In: `POST /v1/webhooks/didit` (no API key, HMAC-verified)
 * applies Didit's status.updated to the check.
 */
export class Webhooks extends Construct {
  public readonly deliveryStateMachine: sfn.StateMachine;
  public readonly deliverFunction: NodeFunction;
  public readonly diditWebhookFunction: NodeFunction;
  /** The first client app's signing secret, which also signs for owners that are no client app (IAM, Cognito). */
  public readonly signingSecret: secretsmanager.ISecret;
  /** Every client app's signing secret, by app. */
  public readonly signingSecrets: Readonly<Record<string, secretsmanager.ISecret>>;
  public readonly diditWebhookSecret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: WebhooksProps) {
    super(scope, id);
    const caps = capsForHorizon(props.backoff, props.horizon.toSeconds());

    const clientApps = props.clientApps ?? ['default'];
    const [firstApp = 'default', ...otherApps] = clientApps;
    const newSigningSecret = (id: string, app: string) =>
      new secretsmanager.Secret(this, id, {
        description:
          `Standard Webhooks signing secret(s) for the callbacks of client app "${app}": "whsec_<base64>", ` +
          'optionally followed by a space and the previous secret while receivers rotate. The generated value is ' +
          'already a valid key (40 base64 characters = 30 bytes): give receivers "whsec_" followed by it.',
        // 40 letters and digits are canonical base64 for a 30-byte key, which the deliverer accepts without the prefix.
        generateSecretString: { passwordLength: 40, excludePunctuation: true, includeSpace: false },
      });
    // The first app keeps the construct id of the single secret earlier versions created (no replacement on upgrade).
    this.signingSecret = props.signingSecret ?? newSigningSecret('SigningSecret', firstApp);
    // Only API keys tie a check to a client app; IAM and Cognito owners are signed for with the first secret.
    const perApp = (props.authorization?.mode ?? 'API_KEY') === 'API_KEY';
    this.signingSecrets = {
      [firstApp]: this.signingSecret,
      ...Object.fromEntries(perApp ? otherApps.map((app) => [app, newSigningSecret(`SigningSecret-${app}`, app)]) : []),
    };
    this.diditWebhookSecret =
      props.diditWebhookSecret ??
      new secretsmanager.Secret(this, 'DiditWebhookSecret', {
        description: "Didit's webhook secret_shared_key (Didit console → webhooks); set it after deploying.",
      });
    for (const secret of [...Object.values(this.signingSecrets), this.diditWebhookSecret]) {
      if (secret instanceof secretsmanager.Secret) {
        acknowledgeFinding(
          secret,
          'secretRotation',
          'Rotation is a two-party change (Didit or the callback receivers must take the new value), which a ' +
            'rotation function cannot make; it is rotated by hand: docs/operations.md, "Rotating secrets by hand".',
        );
      }
    }

    this.deliverFunction = new NodeFunction(this, 'DeliverWebhook', {
      entry: DELIVER_WEBHOOK_ENTRY,
      description: 'Signs and delivers check events to callback URLs (Standard Webhooks)',
      architecture: props.architecture,
      memorySize: props.memorySize ?? SETTINGS.memorySize.default,
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      environment: {
        [SETTINGS.tableName.env.name]: props.table.tableName,
        [SETTINGS.eventBusName.env.name]: props.eventBus.eventBusName,
        [SETTINGS.webhookSigningSecretId.env.name]: this.signingSecret.secretArn,
        [SETTINGS.webhookSigningSecretIds.env.name]: Fn.join(
          ',',
          Object.entries(this.signingSecrets).map(([app, secret]) => Fn.join('=', [app, secret.secretArn])),
        ),
        [SETTINGS.callbackAllowedOrigins.env.name]: (props.callbackAllowedOrigins ?? []).join(','),
        [SETTINGS.webhookRetryHorizon.env.name]: String(props.horizon.toSeconds()),
        [SETTINGS.webhookMaxAttempts.env.name]: String(caps.length + 1),
      },
    });
    iam.Grant.addToPrincipal({
      grantee: this.deliverFunction,
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resourceArns: [props.table.tableArn],
    });
    grantKeyUse(props.table, this.deliverFunction, 'write');
    props.eventBus.grantPutEventsTo(this.deliverFunction);
    for (const secret of Object.values(this.signingSecrets)) secret.grantRead(this.deliverFunction);

    this.deliveryStateMachine = this.deliveryWorkflow(caps, props.logRetention);
    new events.Rule(this, 'DeliverCheckEvents', {
      description: 'Starts a webhook delivery for every check event whose check has a callback_url',
      eventBus: props.eventBus,
      eventPattern: {
        source: WEBHOOK_DELIVERY_PATTERN.source,
        detailType: WEBHOOK_DELIVERY_PATTERN['detail-type'],
        detail: WEBHOOK_DELIVERY_PATTERN.detail,
      },
      targets: [
        new targets.SfnStateMachine(this.deliveryStateMachine, {
          // Ids only: the execution history (kept 90 days) never holds vendor_data, metadata or a result, and the
          // deliverer reads the check itself (core/webhook-payload.ts DeliveryRequest).
          input: events.RuleTargetInput.fromObject({
            id: events.EventField.eventId,
            'detail-type': events.EventField.detailType,
            time: events.EventField.time,
            detail: { id: events.EventField.fromPath('$.detail.id') },
          }),
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
          deadLetterQueue: props.undeliveredEvents,
        }),
      ],
    });

    this.diditWebhookFunction = new NodeFunction(this, 'DiditWebhook', {
      entry: DIDIT_WEBHOOK_ENTRY,
      description: "Verifies Didit's status.updated webhooks and applies them to checks",
      architecture: props.architecture,
      memorySize: props.memorySize ?? SETTINGS.memorySize.default,
      timeout: Duration.seconds(10),
      logRetention: props.logRetention,
      environment: {
        [SETTINGS.tableName.env.name]: props.table.tableName,
        [SETTINGS.eventBusName.env.name]: props.eventBus.eventBusName,
        [SETTINGS.diditWebhookSecretId.env.name]: this.diditWebhookSecret.secretArn,
      },
    });
    iam.Grant.addToPrincipal({
      grantee: this.diditWebhookFunction,
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resourceArns: [props.table.tableArn],
    });
    iam.Grant.addToPrincipal({
      grantee: this.diditWebhookFunction,
      actions: ['dynamodb:Query'],
      resourceArns: [`${props.table.tableArn}/index/${DIDIT_SESSION_INDEX_NAME}`],
    });
    grantKeyUse(props.table, this.diditWebhookFunction, 'write');
    props.eventBus.grantPutEventsTo(this.diditWebhookFunction);
    this.diditWebhookSecret.grantRead(this.diditWebhookFunction);

    const route = props.api.root
      .resourceForPath('v1')
      .addResource('webhooks')
      .addResource('didit')
      .addMethod('POST', new apigateway.LambdaIntegration(this.diditWebhookFunction, { proxy: true }), {
        // Didit cannot send our API key; the handler authenticates every request by Didit's HMAC signatures.
        apiKeyRequired: false,
        authorizationType: apigateway.AuthorizationType.NONE,
      });
    Validations.of(route).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: "Didit's webhooks carry no credentials we issue; each body is HMAC-verified with Didit's shared secret.",
    });
    Validations.of(route).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'Server-to-server webhook from Didit, authenticated by HMAC signature, not by a user pool.',
    });
    const sourceIps = props.diditWebhookSourceIps ?? ['*'];
    if (!sourceIps.includes('*')) restrictDiditRoute(props.api, sourceIps, props.authorization?.mode === 'IAM');
  }

  private deliveryWorkflow(caps: number[], logRetention: logs.RetentionDays): sfn.StateMachine {
    const invoke = (id: string, action: string) =>
      new tasks.LambdaInvoke(this, id, {
        lambdaFunction: this.deliverFunction,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({
          action,
          event: sfn.JsonPath.objectAt('$.event'),
          attempt: sfn.JsonPath.numberAt('$.attempt'),
          outcome: sfn.JsonPath.stringAt('$.outcome'),
        }),
        retryOnServiceExceptions: false,
      }).addRetry({
        errors: ['States.ALL'],
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxAttempts: 5,
        maxDelay: Duration.minutes(1),
        jitterStrategy: sfn.JitterType.FULL,
      });

    const done = new sfn.Succeed(this, DELIVERY_STATES.done);
    const prepare = new tasks.LambdaInvoke(this, DELIVERY_STATES.prepare, {
      lambdaFunction: this.deliverFunction,
      payloadResponseOnly: true,
      // The execution input is the delivery request the rule made of the event: its ids, kind and time.
      payload: sfn.TaskInput.fromObject({ action: 'prepare', event: sfn.JsonPath.entirePayload }),
      retryOnServiceExceptions: false,
    }).addRetry({ errors: ['States.ALL'], interval: Duration.seconds(2), maxAttempts: 5, backoffRate: 2 });
    const deliver = invoke(DELIVERY_STATES.attempt, 'attempt');
    const report = invoke(DELIVERY_STATES.report, 'report').next(done);
    const backoff = new sfn.Pass(this, DELIVERY_STATES.backoff, {
      parameters: {
        event: sfn.JsonPath.objectAt('$.event'),
        attempt: sfn.JsonPath.numberAt('$.attempt'),
        outcome: sfn.JsonPath.stringAt('$.outcome'),
        // FULL jitter under doubling caps; the deliverer answers "exhausted" before the caps run out.
        'delay_seconds.$': `States.MathRandom(0, States.ArrayGetItem(States.Array(${caps.join(', ')}), States.MathAdd($.attempt, -1)))`,
      },
    });
    const wait = new sfn.Wait(this, DELIVERY_STATES.wait, { time: sfn.WaitTime.secondsPath('$.delay_seconds') });
    backoff.next(wait);
    wait.next(deliver);
    deliver.next(
      new sfn.Choice(this, DELIVERY_STATES.next)
        .when(sfn.Condition.stringEquals('$.outcome', 'retry'), backoff)
        .when(sfn.Condition.stringEquals('$.outcome', 'delivered'), done)
        .otherwise(report),
    );
    const start = prepare.next(
      new sfn.Choice(this, DELIVERY_STATES.skip)
        .when(sfn.Condition.stringEquals('$.outcome', 'skip'), done)
        .otherwise(deliver),
    );

    const stateMachine = new sfn.StateMachine(this, 'DeliveryStateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: `Webhook delivery: signed POST to callback_url, ${caps.length + 1} attempts at most within the horizon`,
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'DeliveryLogs', { retention: logRetention }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
    });
    acknowledgeTaskInvokeGrants(stateMachine, [this.deliverFunction]);
    return stateMachine;
  }
}

/**
 * Only `sourceIps` may call the Didit route: an explicit deny for every other source. Once an API has a resource
 * policy, API Gateway refuses what the policy does not allow (IAM-authorized calls excepted, which IAM policies may
 * allow), so the policy also allows the Didit route from those sources and, unless the check routes use IAM, every
 * route; with IAM it allows nothing more, so it grants no principal a route its IAM policies do not. A changed policy
 * takes effect only with a new deployment of the stage, hence the addition to the deployment's logical id.
 */
function restrictDiditRoute(api: apigateway.RestApi, sourceIps: readonly string[], checkRoutesUseIam: boolean): void {
  const anyone = [new iam.AnyPrincipal()];
  api.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DiditWebhookOnlyFromDidit',
      effect: iam.Effect.DENY,
      principals: anyone,
      actions: ['execute-api:Invoke'],
      resources: [DIDIT_WEBHOOK_POLICY_RESOURCE],
      conditions: { NotIpAddress: { 'aws:SourceIp': [...sourceIps] } },
    }),
  );
  api.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DiditWebhook',
      effect: iam.Effect.ALLOW,
      principals: anyone,
      actions: ['execute-api:Invoke'],
      resources: [DIDIT_WEBHOOK_POLICY_RESOURCE],
      conditions: { IpAddress: { 'aws:SourceIp': [...sourceIps] } },
    }),
  );
  if (!checkRoutesUseIam) {
    api.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CheckRoutes',
        effect: iam.Effect.ALLOW,
        principals: anyone,
        actions: ['execute-api:Invoke'],
        resources: ['execute-api:/*'],
      }),
    );
  }
  api.latestDeployment?.addToLogicalId({ diditWebhookSourceIps: [...sourceIps] });
}
