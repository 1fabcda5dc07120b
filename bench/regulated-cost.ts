/**
 * What the regulated profile (`regulated: true`) adds to the monthly AWS bill, next to the default stack. Used by
 * `npm run cost`; pure, so the arithmetic is tested. Prices are us-east-1 list prices from the pages in `source`
 * (first tier, no free tier), transcribed in 2025: re-check them before quoting.
 */
import { SETTINGS } from '../lambdas/core/settings/schema';

export const PROFILE_PRICES = {
  kms: { source: 'https://aws.amazon.com/kms/pricing/', perKeyMonth: 1.0, perRequest: 0.03 / 10_000 },
  waf: {
    source: 'https://aws.amazon.com/waf/pricing/',
    perWebAclMonth: 5.0,
    /** Each rule, and each AWS managed rule group (the baseline groups carry no subscription fee). */
    perRuleMonth: 1.0,
    perRequest: 0.6 / 1e6,
  },
  backup: {
    source: 'https://aws.amazon.com/backup/pricing/ (Amazon DynamoDB, warm storage)',
    dynamoDbGbMonth: 0.1,
  },
  natGateway: { source: 'https://aws.amazon.com/vpc/pricing/', perHour: 0.045, perGbProcessed: 0.045 },
  interfaceEndpoint: { source: 'https://aws.amazon.com/privatelink/pricing/', perAzHour: 0.01, perGbProcessed: 0.01 },
  cloudWatchLogs: { source: 'https://aws.amazon.com/cloudwatch/pricing/', ingestPerGb: 0.5 },
  s3: { source: 'https://aws.amazon.com/s3/pricing/', standardGbMonth: 0.023 },
} as const;

export const PROFILE_ASSUMPTIONS = {
  hoursPerMonth: 730,
  /**
   * KMS requests per check with nothing cached: the upload's GenerateDataKey and the processor's Decrypt. S3 Bucket
   * Keys (on) and the data-key caches of DynamoDB, SQS, EventBridge and CloudWatch Logs make it far fewer: an upper
   * bound.
   */
  kmsRequestsPerCheck: 2,
  /** One Decrypt per Secrets Manager GetSecretValue: warm containers × 12 per hour (300 s cache), three functions. */
  kmsSecretRequestsPerHour: 36,
  /** Rules of the created web ACL: the two rate limits and the two AWS managed groups (+1 with a source allow-list). */
  wafRules: 4,
  /** A WAF log record (headers, rule matches, redacted credentials). */
  wafLogBytesPerRequest: 1500,
  /** Item size of a finished check in the table (bench/dynamo-size: ~715 B), for the backup size. */
  checkItemBytes: 715,
  /** NAT gateways for VPC placement: one per availability zone the subnets are in. */
  natGateways: 2,
  /** Bytes per check through the NAT gateway: the JPEG to Didit and its answer; S3 and DynamoDB via free gateway endpoints. */
  natBytesPerCheck: 250_000,
  /** Interface endpoints that keep the other AWS calls off the NAT (Secrets Manager, EventBridge, Step Functions, SQS, KMS, X-Ray). */
  interfaceEndpoints: 6,
} as const;

export interface ProfileCostInput {
  readonly checksPerMonth: number;
  /** API requests per check (create + polls). */
  readonly apiRequestsPerCheck: number;
  readonly uploadBytes: number;
  readonly checkRetentionDays: number;
  readonly backupRetentionDays: number;
}

export interface ProfileCostRow {
  readonly part: string;
  readonly what: string;
  readonly monthly: number;
}

/** The profile's monthly costs, by part; `vpc` rows only apply when the functions are placed in subnets. */
export function regulatedMonthly(input: ProfileCostInput): { always: ProfileCostRow[]; vpc: ProfileCostRow[] } {
  const p = PROFILE_PRICES;
  const a = PROFILE_ASSUMPTIONS;
  const requests = input.checksPerMonth * input.apiRequestsPerCheck;
  // Full backups, one a day, each the table's size; the table holds checkRetentionDays of checks.
  const tableGb = (input.checksPerMonth / 30) * input.checkRetentionDays * (a.checkItemBytes / 1e9);
  const kmsRequests = input.checksPerMonth * a.kmsRequestsPerCheck + a.kmsSecretRequestsPerHour * a.hoursPerMonth;
  const always: ProfileCostRow[] = [
    { part: 'KMS', what: 'one customer-managed key', monthly: p.kms.perKeyMonth },
    {
      part: 'KMS',
      what: `≤ ${Math.round(kmsRequests).toLocaleString('en-US')} requests (${a.kmsRequestsPerCheck}/check, secrets)`,
      monthly: kmsRequests * p.kms.perRequest,
    },
    {
      part: 'WAF',
      what: `web ACL + ${a.wafRules} rules`,
      monthly: p.waf.perWebAclMonth + a.wafRules * p.waf.perRuleMonth,
    },
    {
      part: 'WAF',
      what: `${requests.toLocaleString('en-US')} requests inspected`,
      monthly: requests * p.waf.perRequest,
    },
    {
      part: 'WAF',
      what: `logs, ~${a.wafLogBytesPerRequest} B per request`,
      monthly: ((requests * a.wafLogBytesPerRequest) / 1e9) * p.cloudWatchLogs.ingestPerGb,
    },
    {
      part: 'AWS Backup',
      what: `${input.backupRetentionDays} daily backups of a ${tableGb.toFixed(2)} GB table`,
      monthly: tableGb * input.backupRetentionDays * p.backup.dynamoDbGbMonth,
    },
    {
      part: 'S3',
      what: 'non-current upload versions, kept 1 day',
      monthly: ((input.checksPerMonth * input.uploadBytes) / 1e9) * (1 / 30) * p.s3.standardGbMonth,
    },
  ];
  const vpc: ProfileCostRow[] = [
    {
      part: 'VPC',
      what: `${a.natGateways} NAT gateways (one per AZ)`,
      monthly: a.natGateways * p.natGateway.perHour * a.hoursPerMonth,
    },
    {
      part: 'VPC',
      what: `NAT data, ${a.natBytesPerCheck / 1000} KB per check to Didit`,
      monthly: ((input.checksPerMonth * a.natBytesPerCheck) / 1e9) * p.natGateway.perGbProcessed,
    },
    {
      part: 'VPC (optional)',
      what: `${a.interfaceEndpoints} interface endpoints × ${a.natGateways} AZs`,
      monthly: a.interfaceEndpoints * a.natGateways * p.interfaceEndpoint.perAzHour * a.hoursPerMonth,
    },
  ];
  return { always, vpc };
}

/** The defaults the profile uses, from the settings schema. */
export const PROFILE_DEFAULTS = {
  backupRetentionDays: SETTINGS.backupRetentionDays.default,
  checkRetentionDays: SETTINGS.checkRetentionDays.default,
} as const;
