import { Annotations, Aws, CfnResource, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';

/**
 * AWS services through which the functions use the key (`kms:ViaService`): the table, the bucket (S3 asks with the
 * role that signed a presigned POST), the secrets, the dead-letter queues and the bus. Nothing calls KMS directly.
 */
export const KEY_VIA_SERVICES = ['dynamodb', 's3', 'secretsmanager', 'sqs', 'events'] as const;

/** What the functions may do with the key: DynamoDB, S3, SQS and Secrets Manager need these for reads and writes. */
export const KEY_USAGE_ACTIONS = [
  'kms:Decrypt',
  'kms:DescribeKey',
  'kms:Encrypt',
  'kms:GenerateDataKey*',
  'kms:ReEncrypt*',
] as const;

/** What the customer-managed key ended up protecting, by CloudFormation type, and who was granted its use. */
export interface KeyApplication {
  readonly encrypted: ReadonlyMap<string, number>;
  readonly roles: readonly iam.IRole[];
  /** False for an imported key: its key policy is the caller's to write (see docs/operations.md). */
  readonly keyPolicyWritten: boolean;
}

/**
 * Puts every data-holding resource under `scope` on the customer-managed key: buckets (SSE-KMS with an S3 Bucket
 * Key), tables, queues, log groups, secrets, the event bus and topics. It works on the CloudFormation resources, so
 * resources any part of the construct creates are covered without that part knowing the key; L2 objects keep
 * `encryptionKey` undefined, which is why grants go through the key policy instead. Then it writes the key policy:
 * every function role of the service (usage through the services above only), CloudWatch Logs for log groups of this
 * account and region, EventBridge for the bus and rule dead-letter queues, S3 log delivery when a bucket logs to
 * another, CloudWatch alarms when a topic is encrypted. The account-root statement CDK writes stays: it lets IAM
 * administrators (and CloudFormation) manage the key, so the key can never become unmanageable.
 */
export function applyCustomerManagedKey(scope: IConstruct, key: kms.IKey): KeyApplication {
  const encrypted = new Map<string, number>();
  const count = (resource: CfnResource) =>
    encrypted.set(resource.cfnResourceType, (encrypted.get(resource.cfnResourceType) ?? 0) + 1);
  let bucketsLog = false;
  let topics = false;

  for (const node of scope.node.findAll()) {
    if (!CfnResource.isCfnResource(node)) continue;
    if (node instanceof s3.CfnBucket) {
      node.bucketEncryption = {
        serverSideEncryptionConfiguration: [
          {
            serverSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: key.keyArn },
            // One data key per bucket and period instead of one KMS request per object.
            bucketKeyEnabled: true,
          },
        ],
      };
      if (node.loggingConfiguration !== undefined) bucketsLog = true;
    } else if (node instanceof dynamodb.CfnTable) {
      node.sseSpecification = { sseEnabled: true, sseType: 'KMS', kmsMasterKeyId: key.keyArn };
    } else if (node instanceof dynamodb.CfnGlobalTable) {
      encryptGlobalTable(node, key);
    } else if (node instanceof sqs.CfnQueue) {
      node.sqsManagedSseEnabled = undefined;
      node.kmsMasterKeyId = key.keyArn;
    } else if (node instanceof logs.CfnLogGroup) {
      node.kmsKeyId = key.keyArn;
    } else if (node instanceof secretsmanager.CfnSecret) {
      node.kmsKeyId = key.keyArn;
    } else if (node instanceof events.CfnEventBus) {
      node.kmsKeyIdentifier = key.keyArn;
    } else if (node instanceof sns.CfnTopic) {
      node.kmsMasterKeyId ??= key.keyArn;
      topics = true;
    } else {
      continue;
    }
    count(node);
  }

  const roles = functionRoles(scope);
  const statements = keyPolicyStatements(roles, { bucketsLog, topics });
  const keyPolicyWritten = statements.every((statement) => key.addToResourcePolicy(statement).statementAdded);
  if (!keyPolicyWritten) {
    // An imported key's policy cannot be changed from here: grant the roles through their own policies (the key
    // policy must delegate to IAM) and say what the key policy has to allow.
    for (const role of roles) key.grantEncryptDecrypt(role);
    Annotations.of(scope).addWarningV2(
      'liveness:imported-key-policy',
      'encryptionKey is imported, so its key policy is not managed here: it must delegate to IAM and allow ' +
        'CloudWatch Logs, EventBridge' +
        (bucketsLog ? ', S3 log delivery' : '') +
        (topics ? ', CloudWatch alarms' : '') +
        ' as docs/operations.md ("Regulated profile") lists.',
    );
  }
  return { encrypted, roles, keyPolicyWritten };
}

/** The execution role of every Lambda function under `scope`, each once. */
export function functionRoles(scope: IConstruct): iam.IRole[] {
  const roles = new Set<iam.IRole>();
  for (const node of scope.node.findAll()) {
    if (node instanceof lambda.Function && node.role) roles.add(node.role);
  }
  return [...roles];
}

function keyPolicyStatements(
  roles: readonly iam.IRole[],
  uses: { bucketsLog: boolean; topics: boolean },
): iam.PolicyStatement[] {
  const statements = [
    new iam.PolicyStatement({
      sid: 'ServiceFunctionsUseTheKeyThroughTheirServices',
      principals: roles.map((role) => new iam.ArnPrincipal(role.roleArn)),
      actions: [...KEY_USAGE_ACTIONS],
      // In a key policy "*" is this key.
      resources: ['*'],
      conditions: {
        StringEquals: { 'kms:ViaService': KEY_VIA_SERVICES.map((service) => `${service}.${Aws.REGION}.amazonaws.com`) },
      },
    }),
    new iam.PolicyStatement({
      sid: 'CloudWatchLogsEncryptsThisAccountsLogGroups',
      principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*`,
        },
      },
    }),
    new iam.PolicyStatement({
      sid: 'EventBridgeEncryptsTheBusAndDeliversToQueues',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
    }),
  ];
  if (uses.bucketsLog) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'S3LogDeliveryWritesAccessLogs',
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
        resources: ['*'],
      }),
    );
  }
  if (uses.topics) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToTheTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
  }
  // A key policy statement must name a principal.
  if (roles.length === 0) statements.shift();
  return statements;
}

/** TableV2: the table-level switch, and the key on every replica given as a plain list. */
function encryptGlobalTable(table: dynamodb.CfnGlobalTable, key: kms.IKey): void {
  table.sseSpecification = { sseEnabled: true, sseType: 'KMS' };
  const replicas = table.replicas;
  if (Token.isUnresolved(replicas) || !Array.isArray(replicas)) {
    throw new Error(`${table.node.path}: cannot put the replicas of this global table on the customer-managed key`);
  }
  table.replicas = replicas.map((replica) => {
    const spec = replica as dynamodb.CfnGlobalTable.ReplicaSpecificationProperty;
    return { ...spec, sseSpecification: { kmsMasterKeyId: key.keyArn } };
  });
}
