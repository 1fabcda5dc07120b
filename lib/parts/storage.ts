import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  DIDIT_SESSION_INDEX_NAME,
  DUE_INDEX_NAME,
  OWNER_VENDOR_INDEX_NAME,
  WAITING_INDEX_NAME,
} from '../../lambdas/core/check';

export interface StorageProps {
  /** Key prefix the client uploads under, e.g. `uploads/`. */
  readonly uploadPrefix: string;
  /** Whole days S3 keeps an uploaded image before deleting it. */
  readonly uploadRetentionDays: number;
  /** Browser origins allowed to POST uploads (CORS). */
  readonly corsAllowedOrigins: readonly string[];
  /** Days S3 keeps the uploads bucket's server access logs. @default 90 */
  readonly accessLogRetentionDays?: number;
  /** What happens to the buckets and the table when they leave the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** An existing uploads bucket (an `s3.Bucket` of this app); it gets the upload rules. @default - a new bucket */
  readonly bucket?: s3.IBucket;
  /** An existing table with the service's key and indexes (see {@link assertChecksTable}). @default - a new table */
  readonly table?: dynamodb.ITable;
}

/**
 * The uploads bucket (private, TLS-only, short-lived objects), its access-log bucket, and the checks table. A bucket
 * or table passed in is used instead of a new one; construct ids stay the same either way, so switching does not move
 * the other resources.
 */
export class Storage extends Construct {
  public readonly bucket: s3.IBucket;
  /** Only when the uploads bucket is created here; a bucket passed in keeps its own logging. */
  public readonly accessLogsBucket: s3.Bucket | undefined;
  public readonly table: dynamodb.ITable;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // A bucket that CloudFormation may delete must be emptied first, or the stack deletion fails on it.
    const autoDeleteObjects = removalPolicy === RemovalPolicy.DESTROY;

    if (props.bucket) {
      this.bucket = props.bucket;
      this.accessLogsBucket = undefined;
      addUploadRules(props.bucket, props, { versionAware: true });
    } else {
      this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        // Log delivery only writes to SSE-S3 buckets.
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        minimumTLSVersion: 1.2,
        removalPolicy,
        autoDeleteObjects,
        lifecycleRules: [{ id: 'ExpireAccessLogs', expiration: Duration.days(props.accessLogRetentionDays ?? 90) }],
      });
      // No access logging on this bucket itself: it is the log destination (cdk-nag S1 exempts destinations).

      const bucket = new s3.Bucket(this, 'Uploads', {
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        minimumTLSVersion: 1.2,
        // Versioning stays off on purpose: a lifecycle expiration on a versioned bucket only adds a delete marker and
        // keeps the face image as a noncurrent version. Without versions the image really disappears on schedule.
        versioned: false,
        removalPolicy,
        autoDeleteObjects,
        serverAccessLogsBucket: this.accessLogsBucket,
        serverAccessLogsPrefix: 'uploads-bucket/',
      });
      addUploadRules(bucket, props, { versionAware: false });
      this.bucket = bucket;
    }

    if (props.table) {
      assertChecksTable(props.table);
      this.table = props.table;
      return;
    }
    const table = new dynamodb.Table(this, 'Checks', {
      partitionKey: { name: CHECKS_TABLE_KEY.name, type: CHECKS_TABLE_KEY.type },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Each check carries its own deletion time (epoch seconds), set from the check retention when it is created.
      timeToLiveAttribute: CHECKS_TABLE_TTL_ATTRIBUTE,
      removalPolicy,
    });
    // Sparse: only checks that are not finished (or whose event is not out yet) carry due_shard, so the sweeper's
    // query reads exactly the checks it may have to act on.
    table.addGlobalSecondaryIndex({
      indexName: DUE_INDEX_NAME,
      partitionKey: CHECKS_TABLE_INDEXES[DUE_INDEX_NAME].partitionKey,
      sortKey: CHECKS_TABLE_INDEXES[DUE_INDEX_NAME].sortKey,
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // Didit's webhooks name its session id; this finds the check it belongs to.
    table.addGlobalSecondaryIndex({
      indexName: DIDIT_SESSION_INDEX_NAME,
      partitionKey: CHECKS_TABLE_INDEXES[DIDIT_SESSION_INDEX_NAME].partitionKey,
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    // Sparse: only WAITING checks carry waiting_shard; the sweeper counts them and reads the oldest wait from it.
    table.addGlobalSecondaryIndex({
      indexName: WAITING_INDEX_NAME,
      partitionKey: CHECKS_TABLE_INDEXES[WAITING_INDEX_NAME].partitionKey,
      sortKey: CHECKS_TABLE_INDEXES[WAITING_INDEX_NAME].sortKey,
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    // Sparse: only checks with an owner and a vendor_data carry owner_vendor_key (a hash of both), so a caller lists
    // exactly its own checks for one end user, newest first. ALL: the list answers with each check's view.
    table.addGlobalSecondaryIndex({
      indexName: OWNER_VENDOR_INDEX_NAME,
      partitionKey: CHECKS_TABLE_INDEXES[OWNER_VENDOR_INDEX_NAME].partitionKey,
      sortKey: CHECKS_TABLE_INDEXES[OWNER_VENDOR_INDEX_NAME].sortKey,
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.table = table;
  }
}

/** The checks table's partition key. */
export const CHECKS_TABLE_KEY: dynamodb.Attribute = { name: 'id', type: dynamodb.AttributeType.STRING };
/** Epoch-seconds attribute DynamoDB TTL must be enabled on. */
export const CHECKS_TABLE_TTL_ATTRIBUTE = 'expires_at';
/**
 * The indexes the sweeper (`by-due`, projection ALL; `by-waiting`, keys only), the Didit webhook
 * (`by-didit-session`) and the list route (`by-owner-vendor`, projection ALL) query.
 */
export const CHECKS_TABLE_INDEXES = {
  [DUE_INDEX_NAME]: {
    partitionKey: { name: 'due_shard', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'due_at', type: dynamodb.AttributeType.NUMBER },
  },
  [DIDIT_SESSION_INDEX_NAME]: {
    partitionKey: { name: 'didit_session_id', type: dynamodb.AttributeType.STRING },
  },
  [WAITING_INDEX_NAME]: {
    partitionKey: { name: 'waiting_shard', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'wait_since', type: dynamodb.AttributeType.STRING },
  },
  [OWNER_VENDOR_INDEX_NAME]: {
    partitionKey: { name: 'owner_vendor_key', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'created_at', type: dynamodb.AttributeType.STRING },
  },
} as const satisfies Record<string, { partitionKey: dynamodb.Attribute; sortKey?: dynamodb.Attribute }>;

/**
 * Rejects a table the service cannot run on. A `dynamodb.Table` of this app is checked for the key and both indexes;
 * an imported table (`Table.fromTableName`, …) cannot be inspected at synth, so its shape is the caller's promise
 * (docs/operations.md lists it: key, indexes with their projections, TTL on `expires_at`).
 */
export function assertChecksTable(table: dynamodb.ITable): void {
  const withSchema = table as Partial<Pick<dynamodb.Table, 'schemaV2'>>;
  if (typeof withSchema.schemaV2 !== 'function') return;
  const describe = (schema: dynamodb.KeySchema) =>
    JSON.stringify({
      partitionKey: schema.partitionKeys.map((key) => `${key.name}:${key.type}`),
      sortKey: schema.sortKeys.map((key) => `${key.name}:${key.type}`),
    });
  const expectKeys = (
    what: string,
    schema: dynamodb.KeySchema,
    want: { partitionKey: dynamodb.Attribute; sortKey?: dynamodb.Attribute },
  ) => {
    const same = (have: dynamodb.Attribute[], wanted: dynamodb.Attribute | undefined) =>
      wanted ? have.length === 1 && have[0]?.name === wanted.name && have[0]?.type === wanted.type : have.length === 0;
    if (!same(schema.partitionKeys, want.partitionKey) || !same(schema.sortKeys, want.sortKey)) {
      const wanted = describe({
        partitionKeys: [want.partitionKey],
        sortKeys: want.sortKey ? [want.sortKey] : [],
      });
      throw new Error(`LivenessService: the table's ${what} must be keyed ${wanted}, got ${describe(schema)}`);
    }
  };
  expectKeys('primary key', withSchema.schemaV2(), { partitionKey: CHECKS_TABLE_KEY });
  for (const [indexName, keys] of Object.entries(CHECKS_TABLE_INDEXES) as Array<
    [string, { partitionKey: dynamodb.Attribute; sortKey?: dynamodb.Attribute }]
  >) {
    let schema: dynamodb.KeySchema;
    try {
      schema = withSchema.schemaV2(indexName);
    } catch {
      throw new Error(
        `LivenessService: the table passed as \`table\` has no global secondary index "${indexName}"; the service ` +
          `queries it. Add it (see docs/operations.md, "Bringing your own table") or let the service create the table.`,
      );
    }
    expectKeys(`index "${indexName}"`, schema, keys);
  }
}

/**
 * The rules the service relies on: uploads expire after the retention (with their noncurrent versions, should the
 * bucket be versioned), incomplete multipart uploads are aborted, browsers may POST from the allowed origins. Only an
 * `s3.Bucket` of this app can be given them; CloudFormation cannot add a lifecycle rule to an imported bucket.
 */
function addUploadRules(
  bucket: s3.IBucket,
  props: Pick<StorageProps, 'uploadPrefix' | 'uploadRetentionDays' | 'corsAllowedOrigins'>,
  opts: { versionAware: boolean },
): void {
  const owned = bucket as Partial<Pick<s3.Bucket, 'addLifecycleRule' | 'addCorsRule'>>;
  if (typeof owned.addLifecycleRule !== 'function' || typeof owned.addCorsRule !== 'function') {
    throw new Error(
      `LivenessService: the bucket passed as \`bucket\` (${bucket.node.path}) is imported, so the service cannot add ` +
        'the lifecycle rule that deletes uploads after uploadRetentionDays, nor its CORS rule. Pass an s3.Bucket ' +
        'defined in this CDK app, or let the service create the bucket.',
    );
  }
  owned.addCorsRule({
    // Browsers send the image as a multipart/form-data POST to the presigned POST URL.
    allowedMethods: [s3.HttpMethods.POST],
    allowedOrigins: [...props.corsAllowedOrigins],
    allowedHeaders: ['*'],
    maxAge: 3000,
  });
  owned.addLifecycleRule({
    id: 'ExpireUploads',
    prefix: props.uploadPrefix,
    expiration: Duration.days(props.uploadRetentionDays),
    ...(opts.versionAware ? { noncurrentVersionExpiration: Duration.days(1) } : {}),
  });
  owned.addLifecycleRule({
    id: 'AbortIncompleteMultipartUploads',
    abortIncompleteMultipartUploadAfter: Duration.days(1),
  });
}

/**
 * Grants on the customer-managed KMS key of a table or bucket passed in, if it has one; AWS-owned and AWS-managed
 * keys need no grant. `write` adds encryption (data keys) to decryption.
 */
export function grantKeyUse(
  resource: { readonly encryptionKey?: kms.IKey | undefined },
  grantee: iam.IGrantable,
  access: 'read' | 'write',
): void {
  if (!resource.encryptionKey) return;
  if (access === 'read') resource.encryptionKey.grantDecrypt(grantee);
  else resource.encryptionKey.grantEncryptDecrypt(grantee);
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
