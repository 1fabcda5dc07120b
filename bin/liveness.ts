import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LivenessStack } from '../lib/liveness-stack';
import { readSettings, SettingsError } from '../lib/settings';

const app = new App();

let settings: ReturnType<typeof readSettings>;
try {
  settings = readSettings(app.node);
} catch (error) {
  if (error instanceof SettingsError) {
    process.stderr.write(`Invalid CDK context: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

new LivenessStack(app, 'DiditLiveness', {
  description: 'Didit passive liveness back end: API, uploads bucket, image processor, checks table, event bus',
  settings,
  // Environment-agnostic offline; account and region come from the CLI's credentials when deploying.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});

// cdk-nag's AWS Solutions rules run as a policy-validation plugin: any unacknowledged finding fails the synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
