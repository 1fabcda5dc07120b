import { type Stack, Validations } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';

/**
 * The findings this service acknowledges instead of fixing, each with the id every cdk-nag pack that checks the same
 * thing gives it. One call acknowledges the finding in all of them with one reason, so a reason is written once, in
 * code, next to the resource it is about; cdk-nag matches ids exactly (no prefixes), hence the full list.
 */
export const PACK_FINDINGS = {
  /** A second copy of the bucket in another region. */
  bucketReplication: [
    'HIPAA.Security-S3BucketReplicationEnabled',
    'NIST.800.53.R5-S3BucketReplicationEnabled',
    'PCI.DSS.321-S3BucketReplicationEnabled',
  ],
  /** Secrets Manager rotating the secret with a Lambda function. */
  secretRotation: [
    'AwsSolutions-SMG4',
    'HIPAA.Security-SecretsManagerRotationEnabled',
    'NIST.800.53.R5-SecretsManagerRotationEnabled',
  ],
  /** An API Gateway cache cluster on the stage, encrypted. */
  apiStageCache: [
    'HIPAA.Security-APIGWCacheEnabledAndEncrypted',
    'NIST.800.53.R5-APIGWCacheEnabledAndEncrypted',
    'PCI.DSS.321-APIGWCacheEnabledAndEncrypted',
  ],
  /** A client certificate API Gateway presents to the back end. */
  apiClientCertificate: [
    'HIPAA.Security-APIGWSSLEnabled',
    'NIST.800.53.R5-APIGWSSLEnabled',
    'PCI.DSS.321-APIGWSSLEnabled',
  ],
  /** A Lambda function without reserved concurrency. */
  functionConcurrency: ['HIPAA.Security-LambdaConcurrency', 'NIST.800.53.R5-LambdaConcurrency'],
  /** A Lambda function without a dead-letter queue. */
  functionDeadLetterQueue: ['HIPAA.Security-LambdaDLQ', 'NIST.800.53.R5-LambdaDLQ'],
  /** A Lambda function outside a VPC. */
  functionOutsideVpc: [
    'HIPAA.Security-LambdaInsideVPC',
    'NIST.800.53.R5-LambdaInsideVPC',
    'PCI.DSS.321-LambdaInsideVPC',
  ],
  /** A Lambda function on a runtime that is not the newest. */
  functionRuntime: ['AwsSolutions-L1'],
} as const satisfies Record<string, readonly string[]>;

export type PackFinding = keyof typeof PACK_FINDINGS;

/** Acknowledges `finding` on `scope` (and everything under it) in every pack that reports it, with one reason. */
export function acknowledgeFinding(scope: IConstruct, finding: PackFinding, reason: string): void {
  for (const id of PACK_FINDINGS[finding]) Validations.of(scope).acknowledge({ id, reason });
}

/**
 * The findings that contradict what this service is for, acknowledged on the resources the service created under
 * `owner`. (Secret rotation is acknowledged where each secret is created.)
 */
export function acknowledgePurposeConflicts(owner: IConstruct, stage: apigateway.Stage): void {
  for (const node of owner.node.findAll()) {
    if (!(node instanceof s3.Bucket)) continue;
    acknowledgeFinding(
      node,
      'bucketReplication',
      'The uploads bucket holds face images for a day and the access-log bucket the uploaders’ IP addresses; ' +
        'SECURITY.md promises both stay in the deployment region and are deleted on schedule. Replication would ' +
        'keep a copy in another region that the lifecycle expiry here does not delete (S3 does not replicate ' +
        'lifecycle deletions). S3 already stores each object across availability zones; a lost upload fails one ' +
        'check, which the client repeats.',
    );
  }
  acknowledgeFinding(
    stage,
    'apiStageCache',
    'Responses are per check and change within seconds while a client polls GET /v1/liveness-checks/{id} for its ' +
      'decision: a stage cache would answer with a stale status, and would hold vendor_data, metadata and results in ' +
      'one more store outside checkRetentionDays and the erasure promises. The POST routes are not cacheable.',
  );
  acknowledgeFinding(
    stage,
    'apiClientCertificate',
    'A stage client certificate authenticates API Gateway to HTTP back ends. Every integration here is a Lambda ' +
      'proxy integration, which API Gateway calls through the Lambda API (IAM-signed, over TLS), so no back end is ' +
      'ever shown the certificate: it would protect nothing and add a yearly expiry to manage.',
  );
}

/**
 * Functions CDK creates once per stack for its own custom resources, by construct id, and what each does. At synth
 * they are plain CfnResources, which cdk-nag's Lambda and IAM rules skip; read back from the template they are an
 * AWS::Lambda::Function and an AWS::IAM::Role those rules check. What is acknowledged here holds in either form.
 */
export const CDK_DEPLOY_TIME_FUNCTIONS: Readonly<Record<string, string>> = {
  BucketNotificationsHandler050a0587b7544547bf325f094a3db834:
    "CDK's bucket-notifications handler writes the uploads bucket's notification configuration",
  'Custom::S3AutoDeleteObjectsCustomResourceProvider':
    "CDK's auto-delete provider empties the buckets before CloudFormation deletes them (removalPolicy destroy only)",
};

/** Acknowledges, on each of CDK's deploy-time functions the stack has, what does not apply to such a function. */
export function acknowledgeDeployTimeFunctions(stack: Stack): void {
  for (const [id, what] of Object.entries(CDK_DEPLOY_TIME_FUNCTIONS)) {
    const fn = stack.node.tryFindChild(id);
    if (!fn) continue;
    const only = `${what}; CloudFormation invokes it only while the stack deploys`;
    acknowledgeFinding(
      fn,
      'functionOutsideVpc',
      `${only}, and it calls the S3 API and answers CloudFormation: it touches no check data, and in the ` +
        "functions' subnets it would need routes to both or hang the deployment.",
    );
    acknowledgeFinding(fn, 'functionConcurrency', `${only}, once per change: a concurrency limit protects nothing.`);
    acknowledgeFinding(
      fn,
      'functionDeadLetterQueue',
      `${only}, synchronously: a failure fails the deployment, and a dead-letter queue would never receive anything.`,
    );
    acknowledgeFinding(fn, 'functionRuntime', `${only}; CDK picks its runtime, which cannot be configured from here.`);
    // The bucket-notifications handler's role is acknowledged where the processor creates the notification.
    if (id.startsWith('Custom::')) {
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: `${only}; CDK gives its role the basic execution policy (log writing only) and it is not configurable.`,
      });
    }
  }
}
