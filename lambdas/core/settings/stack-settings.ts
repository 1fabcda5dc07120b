import type { SettingSpec } from './kinds';

/**
 * The settings an operator chooses per deployment: CDK context keys, most of them also `LivenessService` props. The
 * entry's name is its prop name (else its context key). Order is the order of docs/operations.md's table.
 *
 * Over the house limit of ~300 lines because it is a table: one entry per setting, each with its type, default, range
 * and doc line; it is meant to be read top to bottom next to the generated table.
 */

/** CloudWatch Logs accepts only these retention periods, in days (`logs.RetentionDays` without INFINITE). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86_400;

export const STACK_SETTINGS = {
  prescreen: {
    kind: 'boolean',
    default: false,
    context: 'prescreen',
    prop: true,
    env: { name: 'PRESCREEN_ENABLED', readBy: ['processUpload'], setBy: 'stack' },
    doc: 'Rekognition DetectFaces before Didit (grants that one action); no face → Declined without a Didit call',
  },
  defaultDeclineThreshold: {
    kind: 'number',
    default: 30,
    min: 0,
    max: 100,
    context: 'defaultDeclineThreshold',
    prop: true,
    env: { name: 'DEFAULT_DECLINE_THRESHOLD', readBy: ['createCheck'], setBy: 'stack' },
    doc: 'Didit score under which a check is declined when the create request names no threshold',
  },
  uploadRetentionDays: {
    kind: 'integer',
    default: 1,
    min: 1,
    max: 365,
    unit: 'days',
    context: 'uploadRetentionDays',
    prop: true,
    doc: 'S3 lifecycle deletes uploaded selfies after this many days',
  },
  keepUploadsUntilLifecycle: {
    kind: 'boolean',
    default: false,
    context: 'keepUploadsUntilLifecycle',
    prop: true,
    env: { name: 'KEEP_UPLOADS_UNTIL_LIFECYCLE', readBy: ['processUpload', 'sweepChecks'], setBy: 'stack' },
    doc:
      'keep each selfie until the lifecycle rule (`uploadRetentionDays`) instead of deleting it when its check ends, ' +
      'for customers who must audit the image; `DELETE` removes it either way',
  },
  storeFaceAttributes: {
    kind: 'boolean',
    default: false,
    context: 'storeFaceAttributes',
    prop: true,
    env: { name: 'STORE_FACE_ATTRIBUTES', readBy: ['processUpload', 'getCheck'], setBy: 'stack' },
    doc:
      "store and return Didit's age, gender and race/ethnicity estimates per face; off, only the box and confidence " +
      'are kept (nothing in the decision needs them)',
  },
  checkRetentionDays: {
    kind: 'integer',
    default: 30,
    min: 1,
    max: 3650,
    unit: 'days',
    context: 'checkRetentionDays',
    prop: true,
    env: { name: 'CHECK_RETENTION_DAYS', readBy: ['createCheck'], setBy: 'stack' },
    doc: 'DynamoDB TTL on check records; not below `uploadRetentionDays`',
  },
  uploadUrlTtlSeconds: {
    kind: 'integer',
    default: 300,
    min: 30,
    max: 300,
    unit: 'seconds',
    context: 'uploadUrlTtlSeconds',
    prop: true,
    env: { name: 'UPLOAD_URL_TTL_SECONDS', readBy: ['createCheck'], setBy: 'stack' },
    doc: 'lifetime of the presigned upload POST',
  },
  architecture: {
    kind: 'choice',
    choices: ['arm64', 'x86_64'],
    default: 'arm64',
    context: 'architecture',
    prop: true,
    doc: 'CPU of every function (prop: `lambda.Architecture`); sharp is installed to match',
  },
  diditBaseUrl: {
    kind: 'url',
    default: 'https://verification.didit.me',
    context: 'diditBaseUrl',
    prop: true,
    env: { name: 'DIDIT_BASE_URL', readBy: ['processUpload', 'sweepChecks'], setBy: 'stack' },
    doc: 'Didit API origin the processor calls',
  },
  corsAllowedOrigins: {
    kind: 'list',
    default: ['*'],
    of: 'origins',
    item: { pattern: /^https?:\/\/[^/\s]+$/, what: 'an origin like "https://app.example.com" (no path)' },
    wildcard: '*',
    context: 'corsAllowedOrigins',
    prop: true,
    doc: 'origins allowed to POST uploads from a browser (`-c` takes `a,b` or a JSON array)',
  },
  diditWebhookSourceIps: {
    kind: 'list',
    default: ['*'],
    of: 'IPv4 addresses',
    item: {
      pattern: /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\/(?:3[0-2]|[12]?\d))?$/,
      what: 'an IPv4 address or CIDR block like "18.203.201.92" or "18.203.201.0/24"',
    },
    wildcard: '*',
    context: 'diditWebhookSourceIps',
    prop: true,
    doc:
      'who may call `POST /v1/webhooks/didit` (an API Gateway resource policy); `18.203.201.92` is the address ' +
      'Didit publishes, `*` lets anyone try (signatures still decide)',
  },
  clientApps: {
    kind: 'list',
    default: ['default'],
    of: 'client app names',
    item: { pattern: /^[a-z0-9][a-z0-9-]{0,62}$/, what: 'a lowercase name like "app-a" (letters, digits, "-")' },
    context: 'clientApps',
    prop: true,
    doc:
      'the client apps of the API: with API keys each gets its own key (its checks are its own) and its own `whsec_` ' +
      'webhook signing secret',
  },
  callbackAllowedOrigins: {
    kind: 'list',
    default: [],
    mayBeEmpty: true,
    of: 'https origins with a port',
    item: {
      pattern: /^https:\/\/[a-z0-9]([a-z0-9.-]*[a-z0-9])?:\d{1,5}$/,
      what: 'an https origin with its port, like "https://hooks.example.com:8443"',
    },
    context: 'callbackAllowedOrigins',
    prop: true,
    env: { name: 'CALLBACK_ALLOWED_ORIGINS', readBy: ['createCheck', 'deliverWebhook'], setBy: 'stack' },
    doc: 'callback URLs must be https on port 443; these origins may use another port (still public addresses only)',
  },
  authorization: {
    kind: 'choice',
    choices: ['apiKey', 'iam', 'cognito'],
    default: 'apiKey',
    context: 'authorization',
    prop: true,
    doc: 'how callers of the check API authenticate: x-api-key, SigV4, or user pool tokens (prop: `LivenessAuthorization`)',
  },
  cognitoUserPoolArn: {
    kind: 'text',
    pattern: /^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool\/[\w-]+_[0-9a-zA-Z]+$/,
    what: 'a Cognito user pool ARN (arn:aws:cognito-idp:<region>:<account>:userpool/<id>)',
    context: 'cognitoUserPoolArn',
    propNote: '`LivenessAuthorization.cognito(pool)`',
    doc: 'the user pool whose tokens the API accepts; required with, and only with, `authorization=cognito`',
  },
  alarmEmail: {
    kind: 'text',
    pattern: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
    what: 'an email address',
    context: 'alarmEmail',
    propNote: '`alarmTopic`',
    defaultText: '— (no notifications)',
    doc: 'the stack creates an encrypted alarm topic and subscribes this address (confirm the e-mail)',
  },
  processorMemorySize: {
    kind: 'integer',
    default: 1024,
    // sharp decodes up to 40 MP (the pixel limit) in memory; below 512 MiB large photos kill the processor.
    min: 512,
    max: 10_240,
    unit: 'MiB',
    context: 'processorMemorySize',
    prop: true,
    doc: 'memory of the image processor; memory also buys sharp its CPU',
  },
  memorySize: {
    kind: 'integer',
    default: 256,
    min: 128,
    max: 10_240,
    unit: 'MiB',
    context: 'memorySize',
    prop: true,
    doc: 'memory of every other function',
  },
  diditRequestsPerMinute: {
    kind: 'integer',
    default: 280,
    min: 1,
    max: 100_000,
    unit: 'calls/min',
    context: 'diditRequestsPerMinute',
    prop: true,
    env: { name: 'DIDIT_REQUESTS_PER_MINUTE', readBy: ['processUpload', 'sweepChecks'], setBy: 'stack' },
    doc:
      "the one budget every Didit call takes a permit from, all functions together; a little under Didit's 300 per " +
      'minute per application (raise it after Didit raises your limit)',
  },
  diditFailureHorizon: {
    kind: 'duration',
    default: HOUR,
    min: MINUTE,
    max: DAY,
    unit: 'minutes',
    context: 'diditFailureHorizonMinutes',
    prop: true,
    env: { name: 'DIDIT_FAILURE_HORIZON_SECONDS', readBy: ['processUpload'], setBy: 'stack' },
    doc:
      'a check Didit keeps failing (5xx, timeouts, resets, no credits), or a throttled AWS dependency holds up, this ' +
      'long ends FAILED; waiting for the budget or a 429 never fails a check',
  },
  diditCircuitProbeInterval: {
    kind: 'duration',
    default: MINUTE,
    min: 1,
    max: HOUR,
    unit: 'seconds',
    context: 'diditCircuitProbeIntervalSeconds',
    prop: true,
    env: { name: 'DIDIT_CIRCUIT_PROBE_SECONDS', readBy: ['processUpload', 'sweepChecks'], setBy: 'stack' },
    doc: 'while Didit is out of credits no check calls it but one probe per this interval; the others wait',
  },
  processorReservedConcurrency: {
    kind: 'integer',
    default: 0,
    min: 0,
    max: 10_000,
    context: 'processorReservedConcurrency',
    prop: true,
    doc:
      "reserved concurrency of the image processor, 0 for none: caps a burst's invocations (their S3 events wait in " +
      "Lambda's async queue, up to 6 h) and guarantees the processor that much of the account's concurrency",
  },
  diditRetryBaseDelay: {
    kind: 'duration',
    default: 5,
    min: 1,
    max: 5 * MINUTE,
    unit: 'seconds',
    context: 'diditRetryBaseDelaySeconds',
    prop: true,
    doc: 'cap of the first wait before a Didit retry; later caps double (FULL jitter under each)',
  },
  diditRetryMaxDelay: {
    kind: 'duration',
    default: MINUTE,
    min: 1,
    max: HOUR,
    unit: 'seconds',
    context: 'diditRetryMaxDelaySeconds',
    prop: true,
    doc: 'largest cap of a wait before a Didit retry; not below the base delay',
  },
  webhookRetryHorizon: {
    kind: 'duration',
    default: DAY,
    min: MINUTE,
    max: 7 * DAY,
    unit: 'hours',
    context: 'webhookRetryHorizonHours',
    prop: true,
    env: { name: 'WEBHOOK_HORIZON_SECONDS', readBy: ['deliverWebhook'], setBy: 'stack' },
    doc: 'how long one callback delivery keeps retrying',
  },
  removalPolicy: {
    kind: 'choice',
    choices: ['retain', 'destroy'],
    default: 'retain',
    context: 'removalPolicy',
    prop: true,
    doc:
      'fate of the data resources the service creates when they leave the stack; `destroy` empties buckets first ' +
      '(prop: `RemovalPolicy`, RETAIN_ON_UPDATE_OR_DELETE too)',
  },
  logRetention: {
    kind: 'choice',
    choices: LOG_RETENTION_DAYS,
    default: 30,
    context: 'logRetentionDays',
    prop: true,
    doc: 'days CloudWatch keeps function, API access and workflow logs (prop: `logs.RetentionDays`)',
  },
  stuckCheckThreshold: {
    kind: 'duration',
    default: 15 * MINUTE,
    // The sweeper reports every minute and the alarm reads 5-minute periods: less cannot be told apart.
    min: 5 * MINUTE,
    max: DAY,
    unit: 'minutes',
    context: 'stuckCheckMinutes',
    prop: true,
    doc: 'how late the oldest due check may be before the `StuckChecks` alarm fires',
  },
  throttlingRateLimit: {
    kind: 'number',
    default: 10,
    min: 1,
    max: 10_000,
    unit: 'requests/s',
    context: 'throttlingRateLimit',
    prop: true,
    doc: 'steady-state requests per second per API key and stage',
  },
  throttlingBurstLimit: {
    kind: 'integer',
    default: 20,
    min: 1,
    max: 5_000,
    unit: 'requests',
    context: 'throttlingBurstLimit',
    prop: true,
    doc: 'request burst per API key and stage',
  },
  regulated: {
    kind: 'boolean',
    default: false,
    context: 'regulated',
    prop: true,
    doc:
      'the profile for regulated customers: customer-managed KMS key, WAF, AWS Backup plan, alarm topic, managed IAM ' +
      'policies, versioned uploads, reserved concurrency (docs/operations.md, "Regulated profile")',
  },
  webAclArn: {
    kind: 'text',
    pattern: /^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/[\w-]{1,128}\/[0-9a-f-]{36}$/,
    what: 'a regional WAFv2 web ACL ARN (arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>)',
    context: 'webAclArn',
    prop: true,
    defaultText: '— (a new web ACL when `regulated`)',
    doc: 'existing web ACL to associate with the API stage instead of the one the service creates',
  },
  wafRateLimit: {
    kind: 'integer',
    default: 3000,
    // AWS WAF's own bounds for a rate-based rule.
    min: 10,
    max: 2_000_000_000,
    unit: 'requests per 5 min per IP',
    context: 'wafRateLimit',
    prop: true,
    doc:
      "the created web ACL's rate-based rule: requests one IP may send in 5 minutes before WAF blocks it (the " +
      'default is the default stage throttle, 10 requests/s, over 5 minutes)',
  },
  diditWebhookRateLimit: {
    kind: 'integer',
    default: 300,
    min: 10,
    max: 2_000_000_000,
    unit: 'requests per 5 min per IP',
    context: 'diditWebhookRateLimit',
    prop: true,
    doc: 'the stricter rate-based rule for the unauthenticated `POST /v1/webhooks/didit` route, per source IP',
  },
  backupRetentionDays: {
    kind: 'integer',
    default: 35,
    min: 1,
    // The PITR window SECURITY.md already promises: a backup never keeps an erased check longer than PITR does.
    max: 35,
    unit: 'days',
    context: 'backupRetentionDays',
    prop: true,
    doc: 'days AWS Backup keeps each daily recovery point of the checks table (with `regulated` or `backupPlan`)',
  },
  reservedConcurrency: {
    kind: 'integer',
    default: 20,
    min: 1,
    max: 1000,
    context: 'reservedConcurrency',
    prop: true,
    doc: 'with `regulated`: concurrent invocations of each other function (the sweeper always runs alone)',
  },
  vpcSubnetIds: {
    kind: 'text',
    pattern: /^subnet-[0-9a-f]{8,17}(,subnet-[0-9a-f]{8,17}){0,15}$/,
    what: '1–16 comma-separated subnet ids (subnet-…)',
    context: 'vpcSubnetIds',
    propNote: '`vpcSubnets`',
    defaultText: '— (functions outside a VPC)',
    doc: 'private subnets the functions run in; needs `securityGroupIds` and egress to Didit (NAT or proxy)',
  },
  securityGroupIds: {
    kind: 'text',
    pattern: /^sg-[0-9a-f]{8,17}(,sg-[0-9a-f]{8,17}){0,4}$/,
    what: '1–5 comma-separated security group ids (sg-…)',
    context: 'securityGroupIds',
    propNote: '`securityGroups`',
    defaultText: '—',
    doc: 'security groups of the functions in `vpcSubnetIds`; they need outbound HTTPS',
  },
} as const satisfies Record<string, SettingSpec>;
