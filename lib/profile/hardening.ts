import { Duration, Names, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';

/**
 * The profile's changes to resources the service's parts create, made on the finished construct tree so that a part
 * added later (a queue, a function, an alarm) gets them without knowing the profile exists.
 */

/** Every Lambda function under `scope` with its CloudFormation resource. */
function functionsUnder(scope: IConstruct): Array<{ fn: lambda.Function; cfn: lambda.CfnFunction }> {
  return scope.node
    .findAll()
    .filter((node): node is lambda.Function => node instanceof lambda.Function)
    .map((fn) => ({ fn, cfn: fn.node.defaultChild as lambda.CfnFunction }));
}

/**
 * Versions every bucket under `scope` and expires non-current versions a day after they stop being current, and the
 * delete markers left behind: a lifecycle expiry (or a delete) then still removes the data, one day later.
 */
export function versionBuckets(scope: IConstruct): number {
  let count = 0;
  for (const node of scope.node.findAll()) {
    if (!(node instanceof s3.Bucket)) continue;
    (node.node.defaultChild as s3.CfnBucket).versioningConfiguration = { status: 'Enabled' };
    node.addLifecycleRule({
      id: 'ExpireNoncurrentVersions',
      noncurrentVersionExpiration: Duration.days(1),
      expiredObjectDeleteMarker: true,
    });
    count++;
  }
  return count;
}

/** Sends alarm and OK notifications of every alarm under `scope` that has no action yet to `topic`. */
export function routeAlarmsTo(scope: IConstruct, topic: sns.ITopic): number {
  const action = new actions.SnsAction(topic);
  let count = 0;
  for (const node of scope.node.findAll()) {
    if (!(node instanceof cloudwatch.Alarm)) continue;
    const cfn = node.node.defaultChild as cloudwatch.CfnAlarm;
    const existing = Stack.of(node).resolve(cfn.alarmActions) as unknown[] | undefined;
    if (existing && existing.length > 0) continue;
    node.addAlarmAction(action);
    node.addOkAction(action);
    count++;
  }
  return count;
}

/**
 * Reserves concurrency for every function under `scope` that has none: `processor` gets its own figure (it calls
 * Didit and writes the table per upload), the others the common one. A function that already reserves some (the
 * sweeper, 1) keeps it.
 */
export function reserveConcurrency(
  scope: IConstruct,
  processor: lambda.IFunction,
  limits: { processor: number; others: number },
): void {
  for (const { fn, cfn } of functionsUnder(scope)) {
    if (cfn.reservedConcurrentExecutions !== undefined) continue;
    cfn.reservedConcurrentExecutions = fn === processor ? limits.processor : limits.others;
  }
}

/**
 * Gives every function under `scope` without a dead-letter configuration `queue` as its Lambda dead-letter queue
 * (and the right to send to it). Only asynchronous invocations ever use it; functions that already have one keep it.
 */
export function fillInDeadLetterQueues(scope: IConstruct, queue: sqs.IQueue): number {
  let count = 0;
  for (const { fn, cfn } of functionsUnder(scope)) {
    if (cfn.deadLetterConfig !== undefined) continue;
    cfn.deadLetterConfig = { targetArn: queue.queueArn };
    queue.grantSendMessages(fn);
    count++;
  }
  return count;
}

/**
 * Runs every function under `owner` in the given subnets with the given security groups, and attaches to their roles
 * one customer-managed policy with the network-interface actions Lambda needs for that (what the AWS managed
 * AWSLambdaVPCAccessExecutionRole grants, without its log permissions: the functions' own policies cover their log
 * groups). Each function waits for that policy: Lambda checks it when the function is created.
 */
export function placeFunctionsInVpc(
  owner: IConstruct,
  policyScope: Construct,
  subnets: readonly ec2.ISubnet[],
  securityGroups: readonly ec2.ISecurityGroup[],
): iam.ManagedPolicy | undefined {
  const functions = functionsUnder(owner);
  if (functions.length === 0) return undefined;
  const policy = new iam.ManagedPolicy(policyScope, 'VpcNetworkInterfaces', {
    description: 'Lets the liveness functions create and remove the network interfaces of their VPC placement',
    statements: [
      new iam.PolicyStatement({
        actions: [
          'ec2:AssignPrivateIpAddresses',
          'ec2:CreateNetworkInterface',
          'ec2:DeleteNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    ],
  });
  Validations.of(policy).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'The network-interface actions Lambda performs with the execution role to place a function in a VPC: the ' +
      'Describe actions support no resource-level permissions, and the interfaces are created by Lambda with ids ' +
      'unknown at deploy time (the same statement as AWS managed AWSLambdaVPCAccessExecutionRole, logs left out).',
  });
  const roles = new Set<iam.IRole>();
  for (const { fn, cfn } of functions) {
    cfn.vpcConfig = {
      subnetIds: subnets.map((subnet) => subnet.subnetId),
      securityGroupIds: securityGroups.map((group) => group.securityGroupId),
    };
    if (fn.role) roles.add(fn.role);
    fn.node.addDependency(policy);
  }
  for (const role of roles) policy.attachToRole(role);
  return policy;
}

/** An inline policy that became a customer-managed one; renders only when the original would have. */
class ManagedFromInline extends iam.CfnManagedPolicy {
  constructor(scope: iam.Policy, id: string, props: iam.CfnManagedPolicyProps) {
    super(scope, id, props);
  }

  protected override shouldSynthesize(): boolean {
    return !(this.node.scope as iam.Policy).document.isEmpty;
  }
}

/** IAM's limit on a customer-managed policy document, in characters without white space. */
export const MANAGED_POLICY_MAX_CHARS = 6144;

/**
 * Turns every inline IAM policy (`AWS::IAM::Policy`) under `scope` into a customer-managed policy with the same
 * document and the same roles. The managed policy takes the inline one's place in the construct tree, so whatever
 * depended on the policy (or on its role) waits for the managed one, and acknowledgements on the role or the policy
 * still apply. Statements added to the policy afterwards still land in it (the document is shared).
 */
export function useManagedPolicies(scope: IConstruct): number {
  let count = 0;
  for (const node of scope.node.findAll()) {
    if (!(node instanceof iam.Policy)) continue;
    const inline = node.node.tryFindChild('Resource');
    if (!(inline instanceof iam.CfnPolicy)) continue;
    const managed = new ManagedFromInline(node, 'Managed', {
      description: `Policy of ${Names.uniqueResourceName(node, { maxLength: 200 })}`,
      policyDocument: node.document,
      roles: inline.roles,
      users: inline.users,
      groups: inline.groups,
    });
    managed.node.addValidation({
      validate: () => {
        const chars = JSON.stringify(Stack.of(managed).resolve(node.document)).replace(/\s/g, '').length;
        return chars > MANAGED_POLICY_MAX_CHARS
          ? [`${node.node.path} is ${chars} characters, over the ${MANAGED_POLICY_MAX_CHARS} of a managed policy`]
          : [];
      },
    });
    node.node.tryRemoveChild('Resource');
    count++;
  }
  return count;
}
