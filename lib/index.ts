/**
 * The package entry point: the construct to embed, its props and the types they use. The stack and settings are
 * exported too, for apps that deploy the service as it is, configured from CDK context.
 */

export { DEFAULT_METRICS_NAMESPACE, METRICS } from '../lambdas/core/metrics';
export { SETTINGS } from '../lambdas/core/settings/schema';
export { LivenessAuthorization, type LivenessAuthorizationMode } from './authorization';
export {
  type LivenessFunctions,
  LivenessService,
  type LivenessServiceProps,
  UPLOAD_PREFIX,
} from './liveness-service';
export { LivenessStack, type LivenessStackProps } from './liveness-stack';
export type { LivenessAlarms } from './parts/observability';
export { PACK_FINDINGS } from './profile/acknowledgements';
export { acknowledgeFromTemplateMetadata, writeAcknowledgementsToTemplate } from './profile/nag-metadata';
export { LivenessProfile } from './profile/regulated-profile';
export {
  DEFAULT_SETTINGS,
  type DeploymentTarget,
  LIMITS,
  type LivenessSettings,
  readDeploymentTarget,
  readSettings,
  SettingsError,
} from './settings';
