import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { LivenessStack } from '../lib/liveness-stack';
import { type DeploymentTarget, readDeploymentTarget, readSettings, SettingsError } from '../lib/settings';

const app = new App();

let settings: ReturnType<typeof readSettings>;
let target: DeploymentTarget;
try {
  settings = readSettings(app.node);
  target = readDeploymentTarget(app.node);
} catch (error) {
  if (error instanceof SettingsError) {
    process.stderr.write(`Invalid CDK context: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

// One stack per environment (`-c env=prod` → DiditLiveness-prod), so dev and prod can share an account. Without an
// environment the name stays DiditLiveness, the name earlier versions deployed under.
new LivenessStack(app, target.name ? `DiditLiveness-${target.name}` : 'DiditLiveness', {
  description: 'Didit passive liveness back end: API, uploads bucket, image processor, checks table, event bus',
  settings,
  // An environment may pin its account and region; otherwise they come from the CLI's credentials when deploying,
  // and the synth stays environment-agnostic offline.
  env: {
    account: target.account ?? process.env.CDK_DEFAULT_ACCOUNT,
    region: target.region ?? process.env.CDK_DEFAULT_REGION,
  },
});

// cdk-nag's AWS Solutions and Serverless rules run as policy-validation plugins: any unacknowledged finding fails the
// synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
