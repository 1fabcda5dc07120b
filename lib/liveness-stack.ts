import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { LivenessService } from './liveness-service';
import type { LivenessSettings } from './settings';

export interface LivenessStackProps extends StackProps {
  /** Validated stack-level configuration, usually from `readSettings(app.node)`. */
  readonly settings: LivenessSettings;
}

/** One deployable copy of the service, with the values a client integration needs as outputs. */
export class LivenessStack extends Stack {
  public readonly service: LivenessService;

  constructor(scope: Construct, id: string, props: LivenessStackProps) {
    super(scope, id, props);
    const { settings } = props;

    this.service = new LivenessService(this, 'Liveness', {
      prescreen: settings.prescreen,
      defaultDeclineThreshold: settings.defaultDeclineThreshold,
      uploadRetentionDays: settings.uploadRetentionDays,
      architecture: settings.architecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
      diditBaseUrl: settings.diditBaseUrl,
      uploadUrlTtlSeconds: settings.uploadUrlTtlSeconds,
      checkRetentionDays: settings.checkRetentionDays,
      corsAllowedOrigins: [...settings.corsAllowedOrigins],
    });

    const service = this.service;
    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the REST API stage; append v1/liveness-checks',
      value: service.api.url,
    });
    new CfnOutput(this, 'ApiKeyId', {
      description:
        'Id of the API key to send as x-api-key. Read its value with: ' +
        'aws apigateway get-api-key --api-key <ApiKeyId> --include-value --query value --output text',
      value: service.apiKey.keyId,
    });
    new CfnOutput(this, 'EventBusName', {
      description: 'EventBridge bus receiving "Liveness Check Completed/Failed/Updated" events',
      value: service.eventBus.eventBusName,
    });
    new CfnOutput(this, 'DiditApiKeySecretArn', {
      description:
        'Secret holding the Didit API key. Set it with: ' +
        'aws secretsmanager put-secret-value --secret-id <DiditApiKeySecretArn> --secret-string <key>',
      value: service.diditApiKeySecret.secretArn,
    });
    new CfnOutput(this, 'UploadsBucketName', {
      description: 'Private bucket receiving uploads (objects expire after the configured retention)',
      value: service.bucket.bucketName,
    });
    new CfnOutput(this, 'ChecksTableName', {
      description: 'DynamoDB table holding the checks',
      value: service.table.tableName,
    });
  }
}
