import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { LivenessAuthorization, LivenessService } from 'didit-liveness-service';

/**
 * A customer's own stack that embeds the liveness service next to what it already has: its event bus (the service
 * publishes there, next to the app's other events), its pager topic, and a back-end role that calls the API with IAM
 * (SigV4) instead of an API key. Everything else about the service is configured through props, the regulated profile
 * included.
 */
export class EmbedExampleStack extends Stack {
  public readonly liveness: LivenessService;
  /** The role the customer's back end runs as; it may call the check API and nothing else of it. */
  public readonly backendRole: iam.Role;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const appBus = new events.EventBus(this, 'AppEvents', { description: 'Events of the customer application' });

    // CloudWatch may publish to an encrypted topic only with a customer-managed key it is allowed to use.
    const pagerKey = new kms.Key(this, 'PagerKey', {
      enableKeyRotation: true,
      description: 'Encrypts the pager topic',
    });
    pagerKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    const pager = new sns.Topic(this, 'Pager', { masterKey: pagerKey, enforceSSL: true });

    this.liveness = new LivenessService(this, 'Liveness', {
      eventBus: appBus,
      authorization: LivenessAuthorization.iam(),
      alarmTopic: pager,
      architecture: lambda.Architecture.X86_64,
      prescreen: true,
      processorMemorySize: 1536,
      memorySize: 512,
      logRetention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
      checkRetentionDays: 90,
      corsAllowedOrigins: ['https://app.example.com'],
      diditRequestsPerMinute: 250,
      diditFailureHorizon: Duration.minutes(30),
      diditRetryBaseDelay: Duration.seconds(2),
      diditRetryMaxDelay: Duration.seconds(30),
      webhookRetryHorizon: Duration.hours(6),
      stuckCheckThreshold: Duration.minutes(30),
      metricsNamespace: 'Example/Liveness',
      // The profile for regulated customers: a customer-managed key on all of the service's data, a WAF web ACL on
      // the API (here letting only Didit's published address call the webhook route), a daily AWS Backup plan,
      // versioned uploads, reserved concurrency and managed IAM policies. Alarms go to the pager topic above. To run
      // the functions in your VPC as well, add `vpcSubnets: vpc.privateSubnets` and `securityGroups: [functionsSg]`
      // (with egress to Didit through NAT or a proxy).
      regulated: true,
      diditWebhookSourceIps: ['18.203.201.92/32'],
      backupRetentionDays: 14,
    });

    this.backendRole = new iam.Role(this, 'BackendRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Customer back end that creates and reads liveness checks',
    });
    this.liveness.grantInvoke(this.backendRole);
  }
}
