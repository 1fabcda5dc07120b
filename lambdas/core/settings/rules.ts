import type { SettingName } from './schema';

/**
 * Settings that are valid alone but not together. Each rule reads plain values by setting name (durations in
 * seconds) and applies wherever all the settings it reads are known: CDK context knows every context key, props know
 * theirs (and leave out CDK tokens), so a rule about a context-only setting never runs on props.
 */

/** How the caller names a setting and shows its value in a message (context keys quoted, props bare, …). */
export interface Namer {
  name(setting: SettingName): string;
  value(setting: SettingName): string;
}

export interface SettingsRule {
  readonly settings: readonly SettingName[];
  /** The rule in a few words, for the docs. */
  readonly summary: string;
  /** Why the rule exists. */
  readonly why: string;
  /** The violation, worded with `say`, or undefined when the values agree. */
  check(values: Readonly<Partial<Record<SettingName, unknown>>>, say: Namer): string | undefined;
}

/** `setting` must not be below `floor`. */
function atLeast(setting: SettingName, floor: SettingName, why: string): SettingsRule {
  return {
    settings: [setting, floor],
    summary: `\`${setting}\` ≥ \`${floor}\``,
    why,
    check: (values, say) =>
      (values[setting] as number) < (values[floor] as number)
        ? `${say.name(setting)} (${say.value(setting)}) must be at least ${say.name(floor)} (${say.value(floor)})`
        : undefined,
  };
}

export const SETTINGS_RULES: readonly SettingsRule[] = [
  {
    settings: ['authorization', 'cognitoUserPoolArn'],
    summary: '`cognitoUserPoolArn` is set exactly when `authorization` is `cognito`',
    why: 'a user pool is what cognito authorization checks tokens against, and means nothing to the other modes',
    check(values, say) {
      const cognito = values.authorization === 'cognito';
      if (cognito && !values.cognitoUserPoolArn) {
        return (
          `${say.name('authorization')} is ${say.value('authorization')}, so ${say.name('cognitoUserPoolArn')} ` +
          'must name the user pool'
        );
      }
      if (!cognito && values.cognitoUserPoolArn) {
        return (
          `${say.name('cognitoUserPoolArn')} is set but ${say.name('authorization')} is ` +
          `${say.value('authorization')}; set authorization=cognito or remove the ARN`
        );
      }
      return undefined;
    },
  },
  {
    settings: ['vpcSubnetIds', 'securityGroupIds'],
    summary: '`vpcSubnetIds` and `securityGroupIds` are given together',
    why: 'a function in a VPC needs both its subnets and its security groups',
    check(values, say) {
      if (Boolean(values.vpcSubnetIds) === Boolean(values.securityGroupIds)) return undefined;
      const [given, missing] = values.vpcSubnetIds
        ? (['vpcSubnetIds', 'securityGroupIds'] as const)
        : (['securityGroupIds', 'vpcSubnetIds'] as const);
      return `${say.name(given)} is set, so ${say.name(missing)} must be set too`;
    },
  },
  atLeast('diditRetryMaxDelay', 'diditRetryBaseDelay', 'the caps double from the base up to the largest cap'),
  atLeast(
    'checkRetentionDays',
    'uploadRetentionDays',
    'an image must never outlive the check that explains why it was collected',
  ),
];

/** The first violated rule among those whose settings are all in `values`, worded with `say`. */
export function firstViolation(
  values: Readonly<Partial<Record<SettingName, unknown>>>,
  say: Namer,
): string | undefined {
  for (const rule of SETTINGS_RULES) {
    if (!rule.settings.every((setting) => setting in values)) continue;
    const violation = rule.check(values, say);
    if (violation) return violation;
  }
  return undefined;
}
