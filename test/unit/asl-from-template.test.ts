// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} here are CloudFormation placeholders, not JS
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultResolver, fakeLambdaArn, renderedDefinitions } from '../../local/asl-from-template';
import { LocalStepFunctions } from '../../local/step-functions';

interface State {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
}
interface Definition {
  StartAt: string;
  States: Record<string, State>;
}

describe('renderedDefinitions', () => {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'asl-from-template-'));
  let template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  let functionId: string;
  let workflowId: string;
  let fromStringId: string;

  beforeAll(() => {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'AslFromTemplate');
    const greeter = new lambda.Function(stack, 'Greeter', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async (event) => ({ greeting: "hello " + event.name });'),
    });
    const greet = new tasks.LambdaInvoke(stack, 'Greet', {
      lambdaFunction: greeter,
      resultSelector: { 'greeting.$': '$.Payload.greeting' },
      resultPath: '$.invoked',
    });
    greet.addRetry({ errors: ['Busy'], interval: Duration.seconds(5), jitterStrategy: sfn.JitterType.FULL });
    const greetDirect = new tasks.LambdaInvoke(stack, 'GreetDirect', {
      lambdaFunction: greeter,
      payloadResponseOnly: true,
      resultPath: '$.direct',
    });
    const pause = new sfn.Wait(stack, 'Pause', { time: sfn.WaitTime.secondsPath('$.pauseSeconds') });
    const workflow = new sfn.StateMachine(stack, 'Workflow', {
      definitionBody: sfn.DefinitionBody.fromChainable(pause.next(greet).next(greetDirect)),
    });
    const fromString = new sfn.StateMachine(stack, 'FromString', {
      definitionBody: sfn.DefinitionBody.fromString(
        JSON.stringify({ StartAt: 'Hello', States: { Hello: { Type: 'Task', Resource: '${GreeterArn}', End: true } } }),
      ),
      definitionSubstitutions: { GreeterArn: greeter.functionArn },
    });
    template = Template.fromStack(stack).toJSON() as typeof template;
    const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
      stack.getLogicalId(construct.node.defaultChild as CfnElement);
    functionId = logicalId(greeter);
    workflowId = logicalId(workflow);
    fromStringId = logicalId(fromString);
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('makes every synthesized definition concrete JSON with Lambda functions at their fake ARNs', () => {
    // What is being resolved: CDK's Fn::Join around a Ref (partition) and GetAtts, and a substitution.
    expect(template.Resources[workflowId]?.Properties.DefinitionString).toHaveProperty(['Fn::Join']);
    expect(template.Resources[fromStringId]?.Properties.DefinitionSubstitutions).toEqual({
      GreeterArn: { 'Fn::GetAtt': [functionId, 'Arn'] },
    });

    const definitions = renderedDefinitions(template);
    expect(Object.keys(definitions).sort()).toEqual([fromStringId, workflowId].sort());
    for (const definition of Object.values(definitions)) {
      const text = JSON.stringify(definition);
      expect(text).not.toMatch(/Fn::|"Ref"|\$\{/);
      expect(JSON.parse(text)).toEqual(definition);
    }

    const functionArn = fakeLambdaArn(functionId);
    expect(functionArn).toBe(`arn:aws:lambda:us-east-1:000000000000:function:${functionId}`);
    const workflow = definitions[workflowId] as Definition;
    expect(workflow.States.Greet).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: functionArn, 'Payload.$': '$' },
    });
    expect(workflow.States.GreetDirect?.Resource).toBe(functionArn);
    expect((definitions[fromStringId] as Definition).States.Hello?.Resource).toBe(functionArn);
  });

  it('renders JSON that runs locally with the function bound to a handler', async () => {
    const definitions = renderedDefinitions(template);
    const sfnLocal = new LocalStepFunctions({ timeScale: 0 });
    const { arn } = sfnLocal.registerStateMachine({
      name: 'workflow',
      definition: definitions[workflowId] as object,
      taskHandlers: {
        [fakeLambdaArn(functionId)]: async (event) => ({ greeting: `hello ${(event as { name: string }).name}` }),
      },
    });
    const { executionArn } = sfnLocal.startExecution({
      stateMachineArn: arn,
      input: JSON.stringify({ name: 'Ada', pauseSeconds: 3600 }),
    });
    const finished = await sfnLocal.waitForExecution(executionArn, { timeoutMs: 5000 });
    await sfnLocal.stop();

    expect(finished.status).toBe('SUCCEEDED');
    expect(JSON.parse(finished.output as string)).toEqual({
      name: 'Ada',
      pauseSeconds: 3600,
      invoked: { greeting: 'hello Ada' },
      direct: { greeting: 'hello Ada' },
    });
  });

  it('handles the object form, Fn::Sub and substitutions, with a resolver wrapping the default', () => {
    const handWritten = {
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Properties: {} },
        Table: { Type: 'AWS::DynamoDB::Table', Properties: {} },
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            Definition: {
              StartAt: 'Put',
              States: {
                Put: {
                  Type: 'Task',
                  Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:states:::dynamodb:putItem' },
                  Parameters: { TableName: '${TableName}', Item: { pk: { S: 'x' } } },
                  Next: 'Call',
                },
                Call: { Type: 'Task', Resource: { 'Fn::Sub': '${Fn.Arn}' }, End: true },
              },
            },
            DefinitionSubstitutions: {
              TableName: { 'Fn::Select': [1, { 'Fn::Split': ['/', { 'Fn::GetAtt': ['Table', 'Arn'] }] }] },
            },
          },
        },
      },
    };
    const fallback = defaultResolver(handWritten);
    const definitions = renderedDefinitions(handWritten, (ref) =>
      ref['Fn::GetAtt']?.[0] === 'Table' ? 'arn:aws:dynamodb:us-east-1:000000000000:table/checks' : fallback(ref),
    );
    expect(definitions.Machine).toEqual({
      StartAt: 'Put',
      States: {
        Put: {
          Type: 'Task',
          Resource: 'arn:aws:states:::dynamodb:putItem',
          Parameters: { TableName: 'checks', Item: { pk: { S: 'x' } } },
          Next: 'Call',
        },
        Call: { Type: 'Task', Resource: fakeLambdaArn('Fn'), End: true },
      },
    });
  });

  it('fails loudly, naming the state machine, on a reference it cannot resolve', () => {
    const withTable = (reference: unknown) => ({
      Resources: {
        Table: { Type: 'AWS::DynamoDB::Table', Properties: {} },
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            DefinitionString: {
              'Fn::Join': [
                '',
                ['{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"', reference, '","End":true}}}'],
              ],
            },
          },
        },
      },
    });
    expect(() => renderedDefinitions(withTable({ 'Fn::GetAtt': ['Table', 'Arn'] }))).toThrow(
      /state machine Machine: cannot resolve .*Table.*Arn.*AWS::DynamoDB::Table/,
    );
    expect(() => renderedDefinitions(withTable({ Ref: 'AWS::StackName' }))).toThrow(/cannot resolve .*AWS::StackName/);
    expect(() => renderedDefinitions(withTable({ Ref: 'Nowhere' }))).toThrow(/cannot resolve .*Nowhere/);
    expect(() => renderedDefinitions(withTable({ 'Fn::ImportValue': 'shared-arn' }))).toThrow(
      /cannot evaluate .*Fn::ImportValue/,
    );
  });
});
