import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, type IConstruct } from 'constructs';

/** When the daily backup starts (UTC), and how long it may wait to start and take to finish. */
export const BACKUP_SCHEDULE = { hourUtc: 3, startWindow: Duration.hours(1), completionWindow: Duration.hours(8) };

export interface TableBackupProps {
  /** Every DynamoDB table under this construct is backed up (the checks table and any other the service adds). */
  readonly owner: IConstruct;
  /** A table passed in from outside `owner`, backed up as well. @default - none */
  readonly externalTable?: dynamodb.ITable;
  /** Days each recovery point is kept. */
  readonly retentionDays: number;
  /** Encrypts the vault's recovery points. @default - AWS Backup's AWS-managed key */
  readonly encryptionKey?: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * A daily AWS Backup plan for the service's tables, into a vault of its own. Recovery points are immutable: a check
 * deleted from the table (TTL or by hand) stays in every recovery point taken while it existed until that point
 * expires, `retentionDays` later; SECURITY.md states that bound. Restores are not granted to the backup role.
 */
export class TableBackup extends Construct {
  public readonly vault: backup.BackupVault;
  public readonly plan: backup.BackupPlan;
  public readonly selection: backup.BackupSelection;

  constructor(scope: Construct, id: string, props: TableBackupProps) {
    super(scope, id);
    this.vault = new backup.BackupVault(this, 'Vault', {
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      removalPolicy: props.removalPolicy,
    });
    this.plan = new backup.BackupPlan(this, 'Plan', {
      backupVault: this.vault,
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: 'DailyTables',
          scheduleExpression: events.Schedule.cron({ hour: String(BACKUP_SCHEDULE.hourUtc), minute: '0' }),
          startWindow: BACKUP_SCHEDULE.startWindow,
          completionWindow: BACKUP_SCHEDULE.completionWindow,
          deleteAfter: Duration.days(props.retentionDays),
        }),
      ],
    });
    const tables = props.owner.node
      .findAll()
      .filter((node) => node instanceof dynamodb.CfnTable || node instanceof dynamodb.CfnGlobalTable)
      .map((table) => backup.BackupResource.fromArn((table as dynamodb.CfnTable | dynamodb.CfnGlobalTable).attrArn));
    if (props.externalTable) tables.push(backup.BackupResource.fromDynamoDbTable(props.externalTable));
    this.selection = this.plan.addSelection('Tables', { resources: tables, allowRestores: false });
    Validations.of(this.selection).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      reason:
        "AWS Backup's documented service-role policy: AWS keeps it in step with the DynamoDB and KMS calls a backup " +
        'makes (a hand-copied policy that falls behind makes backups fail). Only backup.amazonaws.com can assume the ' +
        'role, and only this plan uses it, for the tables it selects; restores are not granted.',
    });
  }
}
