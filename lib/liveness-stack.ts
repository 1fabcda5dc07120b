import { Annotations, Aws, CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { LivenessAuthorization } from './authorization';
import { LivenessService, type LivenessServiceProps } from './liveness-service';
import { deadLetterQueue } from './parts/dead-letter-queue';
import { propsFromSettings } from './prop-settings';
import type { LivenessSettings } from './settings';

export interface LivenessStackProps extends StackProps {
  /** Validated stack-level configuration, usually from `readSettings(app.node)`. */
  readonly settings: LivenessSettings;
}

/** One deployable copy of the service, with the values a client integration and an operator need as outputs. */
export class LivenessStack extends Stack {
  public readonly service: LivenessService;
  /** The topic created for `alarmEmail`, if one was given. */
  public readonly alarmTopic: sns.Topic | undefined;

  constructor(scope: Construct, id: string, props: LivenessStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const removalPolicy = settings.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.alarmTopic = settings.alarmEmail ? this.alarmTopicFor(settings.alarmEmail, removalPolicy) : undefined;

    this.service = new LivenessService(this, 'Liveness', {
      ...propsFromSettings(settings),
      authorization: this.authorizationFor(settings),
      ...(this.alarmTopic ? { alarmTopic: this.alarmTopic } : {}),
      ...this.vpcPlacementFor(settings),
    });

    const service = this.service;
    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the REST API stage; append v1/liveness-checks',
      value: service.api.url,
    });
    if (service.apiKey) {
      new CfnOutput(this, 'ApiKeyId', {
        description:
          'Id of the API key to send as x-api-key. Read its value with: ' +
          'aws apigateway get-api-key --api-key <ApiKeyId> --include-value --query value --output text',
        value: service.apiKey.keyId,
      });
    }
    new CfnOutput(this, 'EventBusName', {
      description: 'EventBridge bus receiving "Liveness Check Completed/Failed/Updated" events',
      value: service.eventBus.eventBusName,
    });
    this.secretOutputs(
      { arn: 'DiditApiKeySecretArn', command: 'SetDiditApiKeyCommand' },
      service.diditApiKeySecret.secretArn,
      'Secret holding the Didit API key (Didit console → API keys)',
      '"$DIDIT_API_KEY"',
    );
    this.secretOutputs(
      { arn: 'DiditWebhookSecretArn', command: 'SetDiditWebhookSecretCommand' },
      service.diditWebhookSecret.secretArn,
      "Secret holding Didit's webhook secret_shared_key (Didit console → webhooks)",
      '"$DIDIT_WEBHOOK_SECRET"',
    );
    this.secretOutputs(
      { arn: 'WebhookSigningSecretArn', command: 'SetWebhookSigningSecretCommand' },
      service.webhookSigningSecret.secretArn,
      'Secret signing callbacks (Standard Webhooks whsec_…); share the value with your receivers',
      '"whsec_$(openssl rand -base64 32)"',
    );
    // Every further client app: its key id and its own signing secret (the first app's are the outputs above).
    for (const app of service.clientApps.slice(1)) {
      const suffix = app.replace(/(^|-)([a-z0-9])/g, (_, _dash: string, c: string) => c.toUpperCase());
      const key = service.apiKeys[app];
      if (key) {
        new CfnOutput(this, `ApiKeyId${suffix}`, {
          description: `Id of client app "${app}"'s API key (read its value as for ApiKeyId)`,
          value: key.keyId,
        });
      }
      const secret = service.webhookSigningSecrets[app];
      if (secret) {
        this.secretOutputs(
          { arn: `WebhookSigningSecretArn${suffix}`, command: `SetWebhookSigningSecretCommand${suffix}` },
          secret.secretArn,
          `Secret signing client app "${app}"'s callbacks (whsec_…); share it with that app's receivers only`,
          '"whsec_$(openssl rand -base64 32)"',
        );
      }
    }
    new CfnOutput(this, 'UploadsBucketName', {
      description: 'Private bucket receiving uploads (objects expire after the configured retention)',
      value: service.bucket.bucketName,
    });
    new CfnOutput(this, 'ChecksTableName', {
      description: 'DynamoDB table holding the checks',
      value: service.table.tableName,
    });
    if (service.alarmTopic && !this.alarmTopic) {
      new CfnOutput(this, 'AlarmTopicArn', {
        description: 'Topic every alarm notifies (regulated profile); subscribe your on-call to it, or set alarmEmail',
        value: service.alarmTopic.topicArn,
      });
    }
    new CfnOutput(this, 'DashboardUrl', {
      description: 'CloudWatch dashboard of the service',
      value:
        `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}` +
        `#dashboards/dashboard/${service.dashboard.dashboardName}`,
    });
  }

  /** The secret's ARN, and the one command that fills it in after the first deploy (and rotates it). */
  private secretOutputs(
    names: { arn: string; command: string },
    secretArn: string,
    description: string,
    valueExpression: string,
  ): void {
    new CfnOutput(this, names.arn, {
      description: `${description}. Set it with the ${names.command} output.`,
      value: secretArn,
    });
    new CfnOutput(this, names.command, {
      description: `Sets the secret ${names.arn} names; run it once after the first deploy, and to rotate`,
      value: `aws secretsmanager put-secret-value --secret-id ${secretArn} --secret-string ${valueExpression}`,
    });
  }

  /** The subnets and security groups `vpcSubnetIds` / `securityGroupIds` name (readSettings checks they come together). */
  private vpcPlacementFor(settings: LivenessSettings): Pick<LivenessServiceProps, 'vpcSubnets' | 'securityGroups'> {
    if (!settings.vpcSubnetIds || !settings.securityGroupIds) return {};
    return {
      vpcSubnets: settings.vpcSubnetIds.split(',').map((id, index) => {
        const subnet = ec2.Subnet.fromSubnetId(this, `Subnet${index}`, id);
        // The functions only need the subnet id; nothing here reads its route table.
        Annotations.of(subnet).acknowledgeWarning(
          '@aws-cdk/aws-ec2:noSubnetRouteTableId',
          'Lambda placement needs only the subnet id',
        );
        return subnet;
      }),
      securityGroups: settings.securityGroupIds
        .split(',')
        .map((id, index) => ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${index}`, id)),
    };
  }

  private authorizationFor(settings: LivenessSettings): LivenessAuthorization {
    switch (settings.authorization) {
      case 'iam':
        return LivenessAuthorization.iam();
      case 'cognito': {
        // readSettings guarantees the ARN with this mode.
        const arn = settings.cognitoUserPoolArn ?? '';
        return LivenessAuthorization.cognito(cognito.UserPool.fromUserPoolArn(this, 'UserPool', arn));
      }
      default:
        return LivenessAuthorization.apiKey();
    }
  }

  /**
   * An encrypted, TLS-only topic with the address subscribed (it must confirm the subscription e-mail). CloudWatch
   * publishes to an encrypted topic only with a customer-managed key whose policy lets CloudWatch use it.
   */
  private alarmTopicFor(email: string, removalPolicy: RemovalPolicy): sns.Topic {
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the liveness alarm topic',
      enableKeyRotation: true,
      removalPolicy,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        // In a key policy "*" is this key.
        resources: ['*'],
      }),
    );
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Liveness service alarms',
      masterKey: key,
      enforceSSL: true,
    });
    // An alarm e-mail SNS cannot deliver is kept (and visible) rather than dropped.
    const undelivered = deadLetterQueue(this, 'AlarmTopicUndelivered', 'alarm notifications SNS could not deliver');
    topic.addSubscription(new subscriptions.EmailSubscription(email, { deadLetterQueue: undelivered }));
    return topic;
  }
}
