import { ArnFormat, Names, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/** The route Didit calls without credentials; the stricter rules match it by path. */
export const DIDIT_WEBHOOK_PATH = '/v1/webhooks/didit';

/** Rule names, in evaluation order; CloudWatch metrics and WAF logs carry them. */
export const WEB_ACL_RULES = {
  webhookSources: 'DiditWebhookSourceAllowList',
  webhookRate: 'DiditWebhookRatePerIp',
  rate: 'RatePerIp',
  knownBadInputs: 'AWSManagedRulesKnownBadInputsRuleSet',
  common: 'AWSManagedRulesCommonRuleSet',
} as const;

/**
 * Request headers WAF must not write to its logs: the API key callers send, and SigV4 / Cognito credentials. (WAF
 * logs every header otherwise.)
 */
export const REDACTED_HEADERS = ['x-api-key', 'authorization'] as const;

export interface ApiWebAclProps {
  /** The stage the ACL is associated with. */
  readonly stage: apigateway.Stage;
  /** An existing regional web ACL; when given, only the association is created. @default - a new web ACL */
  readonly webAclArn?: string;
  /** Requests one IP may send in 5 minutes before it is blocked. */
  readonly rateLimit: number;
  /** The same for the Didit webhook route. */
  readonly webhookRateLimit: number;
  /** CIDRs allowed to call the Didit webhook route; `['*']` allows any source. */
  readonly webhookSourceIps: readonly string[];
  /** Retention of the WAF log group. */
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * A regional WAFv2 web ACL on the REST API stage: AWS's common and known-bad-inputs rule groups, a rate limit per IP,
 * and stricter rules for the unauthenticated Didit webhook route (a lower rate limit and, optionally, Didit's source
 * addresses only). Logs go to a CloudWatch log group without the credential headers. Sampled requests are off: the
 * WAF console would show them with every header, the API key included.
 */
export class ApiWebAcl extends Construct {
  /** Undefined when an existing ACL was associated. */
  public readonly webAcl: wafv2.CfnWebACL | undefined;
  public readonly webAclArn: string;
  public readonly association: wafv2.CfnWebACLAssociation;
  public readonly logGroup: logs.LogGroup | undefined;

  constructor(scope: Construct, id: string, props: ApiWebAclProps) {
    super(scope, id);
    if (props.webAclArn) {
      this.webAcl = undefined;
      this.logGroup = undefined;
      this.webAclArn = props.webAclArn;
    } else {
      this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
        scope: 'REGIONAL',
        description: 'Didit liveness API: AWS managed rules, rate limits, stricter rules for the Didit webhook route',
        defaultAction: { allow: {} },
        visibilityConfig: visibility('LivenessApi'),
        rules: this.rules(props),
      });
      this.webAclArn = this.webAcl.attrArn;
      this.logGroup = this.logging(this.webAcl, props);
    }
    this.association = new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAclArn,
    });
  }

  private rules(props: ApiWebAclProps): wafv2.CfnWebACL.RuleProperty[] {
    const webhookRoute: wafv2.CfnWebACL.StatementProperty = {
      byteMatchStatement: {
        fieldToMatch: { uriPath: {} },
        positionalConstraint: 'CONTAINS',
        searchString: DIDIT_WEBHOOK_PATH,
        // A path written with %2F or capitals is still the route for this match.
        textTransformations: [
          { priority: 0, type: 'URL_DECODE' },
          { priority: 1, type: 'LOWERCASE' },
        ],
      },
    };
    const rules: UnplacedRule[] = [];
    if (!props.webhookSourceIps.includes('*')) {
      const sources = new wafv2.CfnIPSet(this, 'DiditWebhookSources', {
        scope: 'REGIONAL',
        ipAddressVersion: 'IPV4',
        // WAF takes CIDR blocks only; a bare address is its own /32.
        addresses: props.webhookSourceIps.map((ip) => (ip.includes('/') ? ip : `${ip}/32`)),
        description: 'Addresses allowed to call POST /v1/webhooks/didit (Didit publishes its webhook source address)',
      });
      rules.push({
        name: WEB_ACL_RULES.webhookSources,
        action: { block: {} },
        statement: {
          andStatement: {
            statements: [
              webhookRoute,
              { notStatement: { statement: { ipSetReferenceStatement: { arn: sources.attrArn } } } },
            ],
          },
        },
      });
    }
    rules.push(
      {
        name: WEB_ACL_RULES.webhookRate,
        action: { block: {} },
        statement: {
          rateBasedStatement: {
            limit: props.webhookRateLimit,
            aggregateKeyType: 'IP',
            evaluationWindowSec: 300,
            scopeDownStatement: webhookRoute,
          },
        },
      },
      {
        name: WEB_ACL_RULES.rate,
        action: { block: {} },
        statement: { rateBasedStatement: { limit: props.rateLimit, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
      },
      managedRuleGroup(WEB_ACL_RULES.knownBadInputs, []),
      // Didit's webhook bodies are Didit's to size, and the API validates its own bodies; a body over 8 KB is counted
      // instead of blocked, every other rule of the group blocks.
      managedRuleGroup(WEB_ACL_RULES.common, ['SizeRestrictions_BODY']),
    );
    return rules.map((rule, priority) => ({ ...rule, priority, visibilityConfig: visibility(rule.name) }));
  }

  private logging(webAcl: wafv2.CfnWebACL, props: ApiWebAclProps): logs.LogGroup {
    const logGroup = new logs.LogGroup(this, 'Logs', {
      // WAF only logs to groups whose name starts with aws-waf-logs-.
      logGroupName: `aws-waf-logs-${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}`,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: webAcl.attrArn,
      // The log group ARN without the ":*" suffix logGroupArn carries.
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: logGroup.logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      redactedFields: REDACTED_HEADERS.map((name) => ({ singleHeader: { Name: name } })),
    });
    return logGroup;
  }
}

function visibility(metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty {
  return { cloudWatchMetricsEnabled: true, metricName, sampledRequestsEnabled: false };
}

/** A rule before its place in the ACL (priority) and its metric name are given. */
type UnplacedRule = Omit<wafv2.CfnWebACL.RuleProperty, 'priority' | 'visibilityConfig'>;

function managedRuleGroup(name: string, countOnly: readonly string[]): UnplacedRule {
  return {
    name,
    overrideAction: { none: {} },
    statement: {
      managedRuleGroupStatement: {
        vendorName: 'AWS',
        name,
        ...(countOnly.length > 0
          ? { ruleActionOverrides: countOnly.map((rule) => ({ name: rule, actionToUse: { count: {} } })) }
          : {}),
      },
    },
  };
}
