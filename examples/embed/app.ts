import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EmbedExampleStack } from './stack';

// `npx cdk synth` in this directory. The stack is environment-agnostic; `cdk deploy` takes the CLI's account/region.
const app = new App();
new EmbedExampleStack(app, 'LivenessEmbedExample', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
