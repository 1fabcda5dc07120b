import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** Repository root: entries, the lock file and scripts are resolved from here, never from the shell's cwd. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const CHECK_SHARP_SCRIPT = path.join(REPO_ROOT, 'scripts', 'check-sharp-binary.mjs');

export interface NodeFunctionProps
  extends Omit<
    NodejsFunctionProps,
    | 'entry'
    | 'handler'
    | 'runtime'
    | 'architecture'
    | 'tracing'
    | 'logGroup'
    | 'logRetention'
    | 'role'
    | 'bundling'
    | 'projectRoot'
    | 'depsLockFilePath'
  > {
  /** Handler file, absolute or relative to the repository root, exporting `handler`. */
  readonly entry: string;
  /** CPU architecture; `includeSharp` installs the native binary for it. @default lambda.Architecture.ARM_64 */
  readonly architecture?: lambda.Architecture;
  /** Ship sharp's Linux binaries for the architecture; the synth fails if they are missing or wrong. @default false */
  readonly includeSharp?: boolean;
  /** How long CloudWatch keeps the function's logs. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Bundle the AWS SDK clients into the handler instead of using the runtime's copy. @default false */
  readonly bundleAwsSdk?: boolean;
}

/**
 * The house Lambda: Node.js 24, ARM by default, X-Ray active, JSON logs in an explicit log group with retention,
 * minified CommonJS with source maps, bundled locally by esbuild (never Docker).
 *
 * The role is created here rather than by NodejsFunction so it carries no AWSLambdaBasicExecutionRole (which lets
 * it create and write any log group in the account): the function may write only to its own log group.
 */
export class NodeFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    const { entry, architecture, includeSharp, logRetention, bundleAwsSdk, environment, ...rest } = props;
    const arch = architecture ?? lambda.Architecture.ARM_64;
    const cpu = npmCpu(arch);

    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      memorySize: 256,
      timeout: Duration.seconds(10),
      ...rest,
      entry: path.resolve(REPO_ROOT, entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: arch,
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      environment: {
        // Stack traces point at the TypeScript source instead of the minified bundle.
        NODE_OPTIONS: '--enable-source-maps',
        ...environment,
      },
      bundling: {
        // CommonJS so `require` resolves both the runtime's @aws-sdk (via NODE_PATH) and the installed sharp.
        format: OutputFormat.CJS,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The runtime ships every @aws-sdk/client-* with its @smithy and core packages; helper libraries it may
        // not ship (lib-dynamodb, util-dynamodb, s3-presigned-post) are bundled so a cold start cannot miss them.
        externalModules: bundleAwsSdk ? [] : AWS_SDK_IN_RUNTIME,
        forceDockerBundling: false,
        ...(includeSharp ? sharpBundling(cpu) : {}),
      },
    });

    // Applies to this role's DefaultPolicy, which CDK fills with the X-Ray statement because tracing is active.
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so active ' +
        'tracing needs Resource "*"; every other statement on this role is scoped to a resource ARN.',
    });
  }
}

const AWS_SDK_IN_RUNTIME = ['@aws-sdk/client-*', '@aws-sdk/core', '@aws-sdk/credential-provider-*', '@smithy/*'];

/** The npm `cpu` value for a Lambda architecture. */
export function npmCpu(architecture: lambda.Architecture): 'arm64' | 'x64' {
  if (architecture.name === lambda.Architecture.ARM_64.name) return 'arm64';
  if (architecture.name === lambda.Architecture.X86_64.name) return 'x64';
  throw new Error(`NodeFunction supports arm64 and x86_64, got architecture "${architecture.name}"`);
}

/**
 * Installs sharp in the asset for Linux/glibc on the given CPU. `prefer_offline` makes npm use its cache instead of
 * retrying the registry (which, offline, ends with the optional @img packages silently dropped); the afterBundling
 * check then fails the synth if the binary is missing or built for another CPU.
 */
function sharpBundling(cpu: 'arm64' | 'x64') {
  return {
    nodeModules: ['sharp'],
    environment: {
      npm_config_os: 'linux',
      npm_config_cpu: cpu,
      npm_config_libc: 'glibc',
      npm_config_prefer_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    },
    commandHooks: {
      beforeBundling: (): string[] => [],
      beforeInstall: (): string[] => [],
      afterBundling: (_inputDir: string, outputDir: string): string[] => [
        `node "${CHECK_SHARP_SCRIPT}" "${outputDir}" ${cpu}`,
      ],
    },
  };
}
