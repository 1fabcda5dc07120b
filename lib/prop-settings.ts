import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { type ResourceSpec, SECONDS_PER, type ValueSpec } from '../lambdas/core/settings/kinds';
import { checkPropValue, type Problem, showValue } from '../lambdas/core/settings/parse';
import { firstViolation } from '../lambdas/core/settings/rules';
import { type PropSettingName, SETTINGS, type SettingName, settingEntries } from '../lambdas/core/settings/schema';
import { LivenessAuthorization } from './authorization';
import type { LivenessServiceProps } from './liveness-service';
import type { LivenessSettings } from './settings';

/**
 * The construct side of the settings schema: defaults, range checks and cross-field rules for `LivenessServiceProps`,
 * and the props a set of context settings stands for. Props typed with CDK classes (Duration, Architecture,
 * RemovalPolicy, …) are mapped to and from the schema's plain values here; everything else is the plain value.
 */

/** Every prop the schema validates, with its default applied. */
export type ResolvedProps = Required<Pick<LivenessServiceProps, PropSettingName>>;

/** How a prop maps to the schema's plain value when its type is not that value. */
interface PropForm {
  /** The prop for a plain value (a default, or a value read from context). */
  toProp(plain: unknown): unknown;
  /** The plain value of a given prop (durations in seconds), for the checks and the cross-field rules. */
  toPlain(given: unknown): unknown;
  /** Replaces the schema's check where the prop takes values context cannot name. */
  check?(given: unknown): Problem | undefined;
}

const PLAIN: PropForm = {
  toProp: (plain) => (Array.isArray(plain) ? [...plain] : plain),
  toPlain: (given) => given,
};

/** RemovalPolicy values the stateful resources support (neither S3 buckets nor DynamoDB tables support SNAPSHOT). */
const PROP_REMOVAL_POLICIES: readonly unknown[] = [
  RemovalPolicy.RETAIN,
  RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
  RemovalPolicy.DESTROY,
];

const CDK_FORMS: Partial<Record<PropSettingName, PropForm>> = {
  architecture: {
    toProp: (plain) => (plain === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64),
    toPlain: (given) => (given as lambda.Architecture).name,
  },
  authorization: {
    // Context's "cognito" also needs a user pool construct, which LivenessStack builds from cognitoUserPoolArn.
    toProp: (plain) => (plain === 'iam' ? LivenessAuthorization.iam() : LivenessAuthorization.apiKey()),
    toPlain: (given) => ({ API_KEY: 'apiKey', IAM: 'iam', COGNITO: 'cognito' })[(given as LivenessAuthorization).mode],
  },
  removalPolicy: {
    // The schema's "retain" and "destroy" are RemovalPolicy's own values.
    toProp: (plain) => plain as RemovalPolicy,
    toPlain: (given) => given,
    check: (given) =>
      PROP_REMOVAL_POLICIES.includes(given)
        ? undefined
        : { problem: 'must be RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY' },
  },
  logRetention: {
    toProp: (plain) => plain as logs.RetentionDays,
    toPlain: (given) => given,
    // The prop also takes INFINITE, which CDK context cannot name.
    check: (given) =>
      given === logs.RetentionDays.INFINITE ? undefined : checkPropValue(SETTINGS.logRetention, given),
  },
};

function formOf(name: PropSettingName, spec: ValueSpec): PropForm {
  const cdk = CDK_FORMS[name];
  if (cdk) return cdk;
  if (spec.kind !== 'duration') return PLAIN;
  const unit = spec.unit;
  return {
    // In the unit of the context key, as an operator would write it: Duration.hours(24), not Duration.seconds(86400).
    toProp: (plain) => Duration[unit]((plain as number) / SECONDS_PER[unit]),
    toPlain: (given) => (given as Duration).toSeconds({ integral: false }),
  };
}

/** A prop's schema entry: any value kind but a resource (the construct creates those). */
type PropSpec = Exclude<ValueSpec, ResourceSpec>;

/** The schema entries the construct takes as props and validates. */
function propEntries(): Array<[PropSettingName, PropSpec]> {
  return settingEntries().filter((entry): entry is [PropSettingName, PropSpec] => {
    const spec = entry[1];
    return spec.kind !== 'opaque' && spec.prop === true;
  });
}

const isToken = (value: unknown): boolean => Token.isUnresolved(value);

/**
 * Applies defaults and rejects values (or combinations) the service cannot run with. Tokens are not checked.
 * `defaults` supplies defaults another module owns (the metrics namespace).
 */
export function resolveProps(props: LivenessServiceProps, defaults: Partial<ResolvedProps> = {}): ResolvedProps {
  const resolved: Record<string, unknown> = {};
  // The cross-field rules read values by setting name, durations in seconds; tokens are left out.
  const plain: Partial<Record<SettingName, unknown>> = {};
  for (const [name, spec] of propEntries()) {
    const form = formOf(name, spec);
    const given = (props as Record<string, unknown>)[name] ?? (defaults as Record<string, unknown>)[name];
    if (given === undefined) {
      resolved[name] = form.toProp(spec.default);
      plain[name] = spec.default;
      continue;
    }
    resolved[name] = given;
    const value = form.toPlain(given);
    if (isToken(value)) continue;
    const problem = form.check ? form.check(given) : checkPropValue(spec, value, isToken);
    if (problem) {
      throw new Error(`LivenessService: ${name} ${problem.problem}, got ${showValue(spec, problem.got ?? value)}`);
    }
    plain[name] = value;
  }
  const violation = firstViolation(plain, {
    name: (setting) => setting,
    value: (setting) => showValue(SETTINGS[setting] as ValueSpec, plain[setting]),
  });
  if (violation) throw new Error(`LivenessService: ${violation}`);
  return resolved as ResolvedProps;
}

/**
 * The props that context settings stand for: every setting that is both a context key and a prop. Authorization is
 * left out when it is "cognito" (the caller turns cognitoUserPoolArn into a user pool); alarmEmail has no prop.
 */
export function propsFromSettings(settings: LivenessSettings): LivenessServiceProps {
  const props: Record<string, unknown> = {};
  const values = settings as unknown as Record<string, unknown>;
  for (const [name, spec] of propEntries()) {
    if (!('context' in spec) || spec.context === undefined) continue;
    const value = values[spec.context];
    if (name === 'authorization' && value === 'cognito') continue;
    const plain = spec.kind === 'duration' ? (value as number) * SECONDS_PER[spec.unit] : value;
    props[name] = formOf(name, spec).toProp(plain);
  }
  return props as LivenessServiceProps;
}
