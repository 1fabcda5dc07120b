import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { LivenessStack } from '../lib/liveness-stack';
import { readSettings } from '../lib/settings';
import { defaultResolver, renderedDefinitions } from './asl-from-template';

/** What the local stack needs from `cdk synth`: the rendered state machines and which function runs their tasks. */
export interface SynthesizedWorkflows {
  readonly retry: { readonly definition: object; readonly processorLogicalId: string };
  readonly delivery: { readonly definition: object; readonly deliverLogicalId: string };
}

const CDK_JSON = new URL('../cdk.json', import.meta.url);

/**
 * Synthesizes the real stack in-process (bundling skipped: only the definitions are needed) and returns its state
 * machines as concrete ASL, so the local stack and the tests execute exactly the JSON `cdk synth` renders.
 */
export function synthesizeWorkflows(context: Record<string, unknown> = {}): SynthesizedWorkflows {
  const cdkContext = (JSON.parse(readFileSync(CDK_JSON, 'utf8')) as { context: Record<string, unknown> }).context;
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'liveness-local-synth-'));
  try {
    const app = new App({ outdir, context: { ...cdkContext, ...context, 'aws:cdk:bundling-stacks': [] } });
    const stack = new LivenessStack(app, 'LocalLiveness', { settings: readSettings(app.node) });
    const template = app.synth().getStackByName(stack.stackName).template as object;
    const definitions = renderedDefinitions(template, defaultResolver(template));
    const service = stack.service;
    const retryId = logicalId(service.retryWorkflow.stateMachine);
    const deliveryId = logicalId(service.webhooks.deliveryStateMachine);
    const retry = definitions[retryId];
    const delivery = definitions[deliveryId];
    if (!retry || !delivery) throw new Error('the synthesized template lacks the retry or delivery state machine');
    return {
      retry: { definition: retry, processorLogicalId: logicalId(service.functions.processUpload) },
      delivery: { definition: delivery, deliverLogicalId: logicalId(service.functions.deliverWebhook) },
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}
