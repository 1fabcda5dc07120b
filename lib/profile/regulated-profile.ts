import { Annotations, type RemovalPolicy } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { TableBackup } from './backup';
import { applyCustomerManagedKey, type KeyApplication } from './encryption';
import {
  fillInDeadLetterQueues,
  placeFunctionsInVpc,
  reserveConcurrency,
  routeAlarmsTo,
  useManagedPolicies,
  versionBuckets,
} from './hardening';
import { ApiWebAcl } from './web-acl';

/** Lambda accepts at most 16 subnets and 5 security groups per function. */
/** The processor's reserved concurrency under the profile when `processorReservedConcurrency` reserves none. */
export const REGULATED_PROCESSOR_CONCURRENCY = 50;

export const VPC_LIMITS = { subnets: 16, securityGroups: 5 } as const;

/** What the profile needs from `LivenessServiceProps`, defaults applied by the caller. */
export interface LivenessProfileProps {
  readonly regulated: boolean;
  readonly encryptionKey?: kms.IKey;
  readonly webAcl?: boolean;
  readonly webAclArn?: string;
  readonly backupPlan?: boolean;
  /** The topic the caller gave; with `regulated` and none, the profile creates one. */
  readonly alarmTopic?: sns.ITopic;
  readonly vpcSubnets?: ec2.ISubnet[];
  readonly securityGroups?: ec2.ISecurityGroup[];
  readonly wafRateLimit: number;
  readonly diditWebhookRateLimit: number;
  readonly diditWebhookSourceIps: readonly string[];
  readonly backupRetentionDays: number;
  /** The processor's reserved concurrency; 0 (the default stack's "none") means REGULATED_PROCESSOR_CONCURRENCY. */
  readonly processorReservedConcurrency: number;
  readonly reservedConcurrency: number;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** The service's resources the profile works on, once they all exist. */
export interface ProfileTargets {
  /** The construct whose resources the profile changes (the service). */
  readonly owner: Construct;
  readonly api: apigateway.RestApi;
  readonly processor: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  readonly table: dynamodb.ITable;
}

/**
 * The profile for regulated customers (`regulated: true`) and its parts, each also available alone: a
 * customer-managed key on everything that holds data, a WAF web ACL on the API stage, a daily AWS Backup plan for the
 * tables, VPC placement of the functions; and, with `regulated`, an alarm topic for every alarm, versioned buckets
 * whose old versions expire after a day, reserved concurrency, a dead-letter queue on every function and managed
 * instead of inline IAM policies. Created before the service's parts (the alarms are given its topic); `apply` then
 * changes what the parts created.
 */
export class LivenessProfile extends Construct {
  /** True when any part of the profile was asked for; the service creates no profile otherwise. */
  static isWanted(
    props: Pick<
      LivenessProfileProps,
      'regulated' | 'encryptionKey' | 'webAcl' | 'webAclArn' | 'backupPlan' | 'vpcSubnets' | 'securityGroups'
    >,
  ): boolean {
    return (
      props.regulated ||
      props.encryptionKey !== undefined ||
      props.webAcl === true ||
      props.webAclArn !== undefined ||
      props.backupPlan === true ||
      props.vpcSubnets !== undefined ||
      props.securityGroups !== undefined
    );
  }

  public readonly regulated: boolean;
  /** The key everything is encrypted with: the one given, or one created with `regulated`. */
  public readonly encryptionKey: kms.IKey | undefined;
  /** Created with `regulated` when no `alarmTopic` was given; subscribe to it. */
  public readonly createdAlarmTopic: sns.Topic | undefined;
  /** Set by `apply`, like the three below, when that part is on. */
  public webAcl: ApiWebAcl | undefined;
  public backup: TableBackup | undefined;
  public vpcPolicy: iam.ManagedPolicy | undefined;
  public keyApplication: KeyApplication | undefined;

  private readonly props: LivenessProfileProps;
  private applied = false;

  constructor(scope: Construct, id: string, props: LivenessProfileProps) {
    super(scope, id);
    validate(props);
    this.props = props;
    this.regulated = props.regulated;
    this.encryptionKey =
      props.encryptionKey ??
      (props.regulated
        ? new kms.Key(this, 'Key', {
            description:
              'Encrypts the Didit liveness service: uploads, checks, secrets, queues, logs, events, backups, alarms',
            enableKeyRotation: true,
            removalPolicy: props.removalPolicy,
          })
        : undefined);
    if (props.regulated && !props.alarmTopic) {
      this.createdAlarmTopic = new sns.Topic(this, 'AlarmTopic', {
        displayName: 'Liveness service alarms',
        ...(this.encryptionKey ? { masterKey: this.encryptionKey } : {}),
        enforceSSL: true,
      });
      Annotations.of(this).addWarningV2(
        'liveness:alarm-topic-unsubscribed',
        'regulated: every alarm notifies a new topic that has no subscriber yet. Pass alarmTopic (or alarmEmail to ' +
          'the stack), or subscribe your on-call to this topic.',
      );
    } else {
      this.createdAlarmTopic = undefined;
    }
  }

  /** The topic alarms notify: the one given, else the one created. */
  get alarmTopic(): sns.ITopic | undefined {
    return this.props.alarmTopic ?? this.createdAlarmTopic;
  }

  /** Applies the profile to the service's finished resources; call once, after every part exists. */
  apply(targets: ProfileTargets): void {
    if (this.applied) throw new Error('LivenessProfile.apply runs once');
    this.applied = true;
    const props = this.props;
    const { owner } = targets;

    if (props.webAclArn !== undefined || (props.webAcl ?? props.regulated)) {
      this.webAcl = new ApiWebAcl(this, 'Waf', {
        stage: targets.api.deploymentStage,
        ...(props.webAclArn ? { webAclArn: props.webAclArn } : {}),
        rateLimit: props.wafRateLimit,
        webhookRateLimit: props.diditWebhookRateLimit,
        webhookSourceIps: props.diditWebhookSourceIps,
        logRetention: props.logRetention,
        removalPolicy: props.removalPolicy,
      });
    }
    if (props.backupPlan ?? props.regulated) {
      const external = owner.node.findAll().includes(targets.table) ? undefined : targets.table;
      this.backup = new TableBackup(this, 'Backup', {
        owner,
        ...(external ? { externalTable: external } : {}),
        retentionDays: props.backupRetentionDays,
        ...(this.encryptionKey ? { encryptionKey: this.encryptionKey } : {}),
        removalPolicy: props.removalPolicy,
      });
    }
    if (props.regulated) {
      versionBuckets(owner);
      reserveConcurrency(owner, targets.processor, {
        // `processorReservedConcurrency` 0 reserves none in the default stack; the profile always reserves some.
        processor: props.processorReservedConcurrency || REGULATED_PROCESSOR_CONCURRENCY,
        others: props.reservedConcurrency,
      });
      fillInDeadLetterQueues(owner, targets.deadLetterQueue);
      const topic = this.alarmTopic;
      if (topic) routeAlarmsTo(owner, topic);
    }
    if (props.vpcSubnets && props.securityGroups) {
      this.vpcPolicy = placeFunctionsInVpc(owner, this, props.vpcSubnets, props.securityGroups);
    }
    // After everything above: the key covers the WAF log group, the topic and whatever the parts created.
    if (this.encryptionKey) this.keyApplication = applyCustomerManagedKey(owner, this.encryptionKey);
    // Last: every grant above has landed in the inline policies it converts.
    if (props.regulated) useManagedPolicies(owner);
  }
}

function validate(props: LivenessProfileProps): void {
  const { vpcSubnets, securityGroups } = props;
  if ((vpcSubnets === undefined) !== (securityGroups === undefined)) {
    throw new Error(
      `LivenessService: ${vpcSubnets ? 'vpcSubnets' : 'securityGroups'} is set, so ` +
        `${vpcSubnets ? 'securityGroups' : 'vpcSubnets'} must be set too (a function in a VPC needs both)`,
    );
  }
  if (vpcSubnets && (vpcSubnets.length === 0 || vpcSubnets.length > VPC_LIMITS.subnets)) {
    throw new Error(`LivenessService: vpcSubnets must hold 1–${VPC_LIMITS.subnets} subnets, got ${vpcSubnets.length}`);
  }
  if (securityGroups && (securityGroups.length === 0 || securityGroups.length > VPC_LIMITS.securityGroups)) {
    throw new Error(
      `LivenessService: securityGroups must hold 1–${VPC_LIMITS.securityGroups} groups, got ${securityGroups.length}`,
    );
  }
  if (props.webAcl === false && props.webAclArn !== undefined) {
    throw new Error('LivenessService: webAcl is false but webAclArn names a web ACL to associate; drop one of them');
  }
}
