import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { type BuiltStack, buildLivenessStack, logicalIdOf, propertiesOf } from '../helpers/cdk';

const defaults = buildLivenessStack();
const { stack, template } = defaults;
const uploadsBucket = logicalIdOf(stack.service.bucket.node.defaultChild as CfnElement);

/** The uploads bucket's properties in the default stack, or in one built with extra context. */
function uploadsBucketProperties(context?: Record<string, unknown>): Record<string, unknown> {
  const built: BuiltStack = context ? buildLivenessStack(context) : defaults;
  return propertiesOf(built, built.stack.service.bucket);
}

describe('uploads bucket', () => {
  it('blocks every form of public access', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    expect(uploadsBucketProperties()).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('denies every request made without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: uploadsBucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('encrypts objects with S3-managed keys', () => {
    expect(uploadsBucketProperties()).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
  });

  it('allows browser POST uploads from the configured origins only', () => {
    expect(
      uploadsBucketProperties({ corsAllowedOrigins: 'https://app.example.com,https://admin.example.com' }),
    ).toMatchObject({
      CorsConfiguration: {
        CorsRules: [
          { AllowedMethods: ['POST'], AllowedOrigins: ['https://app.example.com', 'https://admin.example.com'] },
        ],
      },
    });
  });

  it('expires uploads after one day by default and aborts incomplete multipart uploads', () => {
    const rules = (uploadsBucketProperties().LifecycleConfiguration as { Rules: unknown[] }).Rules;
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Prefix: 'uploads/', ExpirationInDays: 1, Status: 'Enabled' }),
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }),
      ]),
    );
  });

  it('expires uploads after uploadRetentionDays when configured', () => {
    const rules = (uploadsBucketProperties({ uploadRetentionDays: '3' }).LifecycleConfiguration as { Rules: unknown[] })
      .Rules;
    expect(rules).toEqual(
      expect.arrayContaining([expect.objectContaining({ Prefix: 'uploads/', ExpirationInDays: 3 })]),
    );
  });

  it('is unversioned, so expired images leave no noncurrent copy', () => {
    expect(uploadsBucketProperties().VersioningConfiguration).toBeUndefined();
  });

  it('is retained when the stack is deleted', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({ CorsConfiguration: Match.anyValue() }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('sends server access logs to a separate private, TLS-only bucket', () => {
    const logging = uploadsBucketProperties().LoggingConfiguration as { DestinationBucketName: { Ref: string } };
    const logsBucket = logging.DestinationBucketName.Ref;
    expect(logsBucket).not.toBe(uploadsBucket);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logsBucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('checks table', () => {
  it('is keyed on the string attribute id', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: Match.arrayWith([{ AttributeName: 'id', AttributeType: 'S' }]),
    });
  });

  it('has a sparse due index for the sweeper and a Didit session index for webhooks', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: 'by-due',
          KeySchema: [
            { AttributeName: 'due_shard', KeyType: 'HASH' },
            { AttributeName: 'due_at', KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: 'by-didit-session',
          KeySchema: [{ AttributeName: 'didit_session_id', KeyType: 'HASH' }],
        }),
      ]),
    });
  });

  it('bills per request', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { BillingMode: 'PAY_PER_REQUEST' });
  });

  it('has point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('deletes expired checks through TTL on expires_at', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
    });
  });

  it('is encrypted with the AWS-managed key and retained on stack deletion', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({ SSESpecification: { SSEEnabled: true } }),
      DeletionPolicy: 'Retain',
    });
  });
});
