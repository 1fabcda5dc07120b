import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DIDIT_SESSION_INDEX_NAME, DUE_INDEX_NAME } from '../../lambdas/core/check';

export interface StorageProps {
  /** Key prefix the client uploads under, e.g. `uploads/`. */
  readonly uploadPrefix: string;
  /** Whole days S3 keeps an uploaded image before deleting it. */
  readonly uploadRetentionDays: number;
  /** Browser origins allowed to POST uploads (CORS). */
  readonly corsAllowedOrigins: readonly string[];
  /** Days S3 keeps the uploads bucket's server access logs. @default 90 */
  readonly accessLogRetentionDays?: number;
}

/** The uploads bucket (private, TLS-only, short-lived objects), its access-log bucket, and the checks table. */
export class Storage extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly accessLogsBucket: s3.Bucket;
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // Log delivery only writes to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'ExpireAccessLogs', expiration: Duration.days(props.accessLogRetentionDays ?? 90) }],
    });
    // No access logging on this bucket itself: it is the log destination (cdk-nag S1 exempts destinations).

    this.bucket = new s3.Bucket(this, 'Uploads', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // Versioning stays off on purpose: a lifecycle expiration on a versioned bucket only adds a delete marker and
      // keeps the face image as a noncurrent version. Without versions the image really disappears on schedule.
      versioned: false,
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'uploads-bucket/',
      cors: [
        {
          // Browsers send the image as a multipart/form-data POST to the presigned POST URL.
          allowedMethods: [s3.HttpMethods.POST],
          allowedOrigins: [...props.corsAllowedOrigins],
          allowedHeaders: ['*'],
          maxAge: 3000,
        },
      ],
      lifecycleRules: [
        {
          id: 'ExpireUploads',
          prefix: props.uploadPrefix,
          expiration: Duration.days(props.uploadRetentionDays),
        },
        {
          id: 'AbortIncompleteMultipartUploads',
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });

    this.table = new dynamodb.Table(this, 'Checks', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Each check carries its own deletion time (epoch seconds), set from the check retention when it is created.
      timeToLiveAttribute: 'expires_at',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Sparse: only checks that are not finished (or whose event is not out yet) carry due_shard, so the sweeper's
    // query reads exactly the checks it may have to act on.
    this.table.addGlobalSecondaryIndex({
      indexName: DUE_INDEX_NAME,
      partitionKey: { name: 'due_shard', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'due_at', type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // Didit's webhooks name its session id; this finds the check it belongs to.
    this.table.addGlobalSecondaryIndex({
      indexName: DIDIT_SESSION_INDEX_NAME,
      partitionKey: { name: 'didit_session_id', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
  }
}

/**
 * The cdk-nag finding id for a wildcard over a bucket prefix:
 * `AwsSolutions-IAM5[Resource::<Bucket.Arn>/uploads/*]`.
 * The logical id depends on where the bucket sits in the tree, so the id is computed instead of hard-coded.
 */
export function bucketPrefixWildcardFinding(bucket: s3.IBucket, prefix: string): string {
  const arn = Stack.of(bucket).resolve(bucket.bucketArn) as { 'Fn::GetAtt'?: [string, string] } | string;
  const flat = typeof arn === 'string' ? arn : arn['Fn::GetAtt'] ? `<${arn['Fn::GetAtt'].join('.')}>` : undefined;
  if (flat === undefined) throw new Error(`cannot name the bucket ARN of ${bucket.node.path} for cdk-nag`);
  return `AwsSolutions-IAM5[Resource::${flat}/${prefix}*]`;
}
