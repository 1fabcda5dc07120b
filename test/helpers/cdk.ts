import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { EmbedExampleStack } from '../../examples/embed/stack';
import { LivenessStack } from '../../lib/liveness-stack';
import { readSettings } from '../../lib/settings';

/** The context `cdk synth` sees (our settings' defaults and the feature flags), so tests build the same stack. */
const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }
).context;

export interface BuiltStack {
  readonly stack: LivenessStack;
  readonly template: Template;
}

/**
 * Builds the stack the way bin/liveness.ts does, with `context` overriding cdk.json (values may be strings, as from
 * `-c key=value`). Bundling is skipped; the synth output goes to a temporary directory that is removed before this
 * returns. cdk-nag is deliberately not registered: as a validation plugin it makes Template.fromStack throw.
 */
export function buildLivenessStack(context: Record<string, unknown> = {}): BuiltStack {
  return withApp(context, (app) => {
    const stack = new LivenessStack(app, 'TestLiveness', { settings: readSettings(app.node) });
    return { stack, template: Template.fromStack(stack) };
  });
}

/** The embedding example (examples/embed) built like `cdk synth` in its directory would, bundling skipped. */
export function buildEmbedExample(): { readonly stack: EmbedExampleStack; readonly template: Template } {
  return withApp({}, (app) => {
    const stack = new EmbedExampleStack(app, 'LivenessEmbedExample');
    return { stack, template: Template.fromStack(stack) };
  });
}

/** An App with cdk.json's context (and `context` over it) synthesizing to a temporary directory removed afterwards. */
function withApp<T>(context: Record<string, unknown>, build: (app: App) => T): T {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'liveness-infra-'));
  try {
    return build(new App({ outdir, context: { ...CDK_JSON_CONTEXT, ...context, 'aws:cdk:bundling-stacks': [] } }));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The template logical id of a construct's CloudFormation resource. */
export function logicalIdOf(element: CfnElement): string {
  return Stack.of(element).getLogicalId(element);
}

/** Logical id of a function's AWS::Lambda::Function resource. */
export function functionLogicalId(fn: IFunction): string {
  return logicalIdOf(fn.node.defaultChild as CfnElement);
}

/** Logical id of the execution role of a function. */
export function roleLogicalId(fn: IFunction): string {
  if (!fn.role) throw new Error(`${fn.node.path} has no role`);
  return logicalIdOf(fn.role.node.defaultChild as CfnElement);
}

export interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

/**
 * Every Allow statement from every inline (AWS::IAM::Policy) or customer-managed (AWS::IAM::ManagedPolicy, the
 * regulated profile's form) policy attached to the role.
 */
export function allowStatementsForRole(template: Template, role: string): PolicyStatement[] {
  type Policy = { Properties: { Roles?: Array<{ Ref: string }>; PolicyDocument: { Statement: PolicyStatement[] } } };
  const policies = {
    ...(template.findResources('AWS::IAM::Policy') as Record<string, Policy>),
    ...(template.findResources('AWS::IAM::ManagedPolicy') as Record<string, Policy>),
  };
  return Object.values(policies)
    .filter((policy) => (policy.Properties.Roles ?? []).some((ref) => ref.Ref === role))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
    .filter((statement) => statement.Effect === 'Allow');
}

/** The actions the role is allowed, flattened and sorted. */
export function allowedActions(template: Template, role: string): string[] {
  return allowStatementsForRole(template, role)
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
    .sort();
}

/** Environment variables of a function resource. */
export function environmentOf(template: Template, fnLogicalId: string): Record<string, unknown> {
  const fn = template.toJSON().Resources[fnLogicalId] as {
    Properties: { Environment?: { Variables?: Record<string, unknown> } };
  };
  return fn.Properties.Environment?.Variables ?? {};
}

/** CloudFormation properties of a construct's resource (its default child). */
export function propertiesOf(built: BuiltStack, construct: IConstruct): Record<string, unknown> {
  const id = logicalIdOf(construct.node.defaultChild as CfnElement);
  const resource = built.template.toJSON().Resources[id] as { Properties?: Record<string, unknown> } | undefined;
  if (!resource) throw new Error(`${construct.node.path} has no resource in the template`);
  return resource.Properties ?? {};
}
