import { DEFAULT_METRICS_NAMESPACE } from '../metrics';
import type { SettingSpec } from './kinds';

/**
 * What `LivenessService` takes only as props: switches and names an embedding app sets in code, and existing
 * resources to use instead of new ones (opaque to the schema, which documents them; the construct checks them).
 */
export const CONSTRUCT_PROPS = {
  apiCloudWatchRole: {
    kind: 'boolean',
    default: true,
    prop: true,
    doc: "create API Gateway's account-wide CloudWatch Logs role; `false` if the account already has one",
  },
  metricsNamespace: {
    kind: 'text',
    default: DEFAULT_METRICS_NAMESPACE,
    pattern: /^(?!AWS\/)[\w.\-/#:]{1,255}$/,
    what: '1–255 letters, digits or . - _ / # : and must not start with "AWS/" (reserved for AWS services)',
    prop: true,
    doc: 'CloudWatch namespace of the custom metrics',
  },
  serviceName: {
    kind: 'opaque',
    prop: true,
    defaultText: 'from the construct path',
    doc: 'Powertools service name: the `service` key of every log line and metric dimension; unique per deployment',
  },
  eventSchemaRegistry: {
    kind: 'boolean',
    default: false,
    prop: true,
    doc: 'publish the JSON Schemas of every event to an EventBridge schema registry (code bindings for subscribers)',
  },
  alarmTopic: {
    kind: 'opaque',
    prop: true,
    defaultText: '— (alarms without actions; with `regulated`, a new topic)',
    doc: 'topic every alarm notifies (alarm and OK)',
  },
  eventBus: {
    kind: 'opaque',
    prop: true,
    defaultText: 'a new bus',
    doc: 'existing bus the check events go to (see "Embedding")',
  },
  table: {
    kind: 'opaque',
    prop: true,
    defaultText: 'a new table',
    doc: 'existing checks table with the key and indexes the service needs (see "Embedding")',
  },
  bucket: {
    kind: 'opaque',
    prop: true,
    defaultText: 'a new bucket',
    doc: 'existing uploads bucket of this app; an imported one throws (see "Embedding")',
  },
  diditApiKeySecret: {
    kind: 'opaque',
    prop: true,
    defaultText: 'a new secret',
    doc: 'existing secret holding the Didit API key',
  },
  diditWebhookSecret: {
    kind: 'opaque',
    prop: true,
    defaultText: 'a new secret',
    doc: "existing secret holding Didit's webhook `secret_shared_key`",
  },
  encryptionKey: {
    kind: 'opaque',
    prop: true,
    defaultText: 'a new key with `regulated`, else AWS-owned and AWS-managed keys',
    doc:
      'customer-managed KMS key for the bucket, table, secrets, queues, log groups, bus and alarm topic the ' +
      "service creates; its key policy names the functions' roles and the services that use it",
  },
  webAcl: {
    kind: 'opaque',
    prop: true,
    defaultText: '`regulated`',
    doc: 'associate a WAFv2 web ACL with the API stage: `webAclArn`, else a new one (managed rules, rate limits)',
  },
  backupPlan: {
    kind: 'opaque',
    prop: true,
    defaultText: '`regulated`',
    doc: 'an AWS Backup plan for the checks table: daily, kept `backupRetentionDays`',
  },
  vpcSubnets: {
    kind: 'opaque',
    prop: true,
    defaultText: '— (functions outside a VPC)',
    doc: 'subnets every function runs in (with `securityGroups`); egress to Didit and callbacks through NAT or a proxy',
  },
  securityGroups: {
    kind: 'opaque',
    prop: true,
    defaultText: '—',
    doc: 'security groups of the functions placed in `vpcSubnets`',
  },
  webhookSigningSecret: {
    kind: 'opaque',
    prop: true,
    defaultText: 'a new generated secret',
    doc: 'existing secret holding the `whsec_` callback signing secret(s)',
  },
} as const satisfies Record<string, SettingSpec>;
