import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/**
 * This module's own URL: `import.meta.url` in the repository (TypeScript, ES modules); in the built package (CommonJS,
 * where esbuild leaves import.meta empty) the file name.
 */
const MODULE_URL: string = import.meta.url ?? pathToFileURL(__filename).href;

/**
 * Repository root: entries, the lock file and scripts are resolved from here, never from the shell's cwd. In the
 * built package this module is dist/lib/parts/node-function.js, so the same relative path is dist/.
 */
export const REPO_ROOT = fileURLToPath(new URL('../../', MODULE_URL));

/**
 * The functions `npm run build` bundled into the package (dist/functions/<name>[-<architecture>]), used when this
 * module runs as built JavaScript, i.e. from the installed package: a consumer synthesizes without esbuild, TypeScript,
 * Docker or the network. From the repository's TypeScript it is undefined and functions are bundled from source at
 * synth, so the repository's own synth and tests always run the code as it is now (never a stale dist/).
 */
export const PREBUILT_FUNCTIONS_DIR = MODULE_URL.endsWith('.js') ? path.join(REPO_ROOT, 'functions') : undefined;

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
  /**
   * Ship the image decoders: sharp's Linux binaries for the architecture (the synth fails if they are missing or
   * wrong) and libheif-js (HEIC). @default false
   */
  readonly includeSharp?: boolean;
  /** How long CloudWatch keeps the function's logs. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Bundle the AWS SDK clients into the handler instead of using the runtime's copy. @default false */
  readonly bundleAwsSdk?: boolean;
}

/** A function of the service; which class built it (source or pre-built) is a packaging detail. */
export type NodeFunction = lambda.Function;

/**
 * The house Lambda: Node.js 24, ARM by default, X-Ray active, JSON logs in an explicit log group with retention,
 * minified CommonJS with source maps, bundled locally by esbuild (never Docker) or taken pre-built from the package.
 *
 * The role is created here rather than by the function so it carries no AWSLambdaBasicExecutionRole (which lets
 * it create and write any log group in the account): the function may write only to its own log group.
 */
export const NodeFunction: new (scope: Construct, id: string, props: NodeFunctionProps) => lambda.Function =
  PREBUILT_FUNCTIONS_DIR ? prebuiltNodeFunction(PREBUILT_FUNCTIONS_DIR) : sourceNodeFunction();

/** What every function of the service shares, whichever way its code is made. */
function houseProps(scope: Construct, id: string, props: NodeFunctionProps) {
  const { entry, architecture, includeSharp, logRetention, bundleAwsSdk, environment, ...rest } = props;
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: logRetention ?? logs.RetentionDays.ONE_MONTH,
  });
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Execution role of ${id}`,
  });
  logGroup.grantWrite(role);
  return {
    memorySize: 256,
    timeout: Duration.seconds(10),
    ...rest,
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: architecture ?? lambda.Architecture.ARM_64,
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
  };
}

/** Applies to the role's DefaultPolicy, which CDK fills with the X-Ray statement because tracing is active. */
function acknowledgeXrayWildcard(fn: lambda.Function): void {
  if (!fn.role) return;
  Validations.of(fn.role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so active ' +
      'tracing needs Resource "*"; every other statement on this role is scoped to a resource ARN.',
  });
}

/** The pre-built asset of an entry: dist/functions/<file name>, the image processor one per CPU architecture. */
export function prebuiltFunctionName(entry: string, includeSharp: boolean, architecture: lambda.Architecture): string {
  const name = path.basename(entry).replace(/\.[cm]?[jt]s$/, '');
  return includeSharp ? `${name}-${architecture.name}` : name;
}

function prebuiltNodeFunction(functionsDir: string) {
  return class PrebuiltNodeFunction extends lambda.Function {
    constructor(scope: Construct, id: string, props: NodeFunctionProps) {
      const house = houseProps(scope, id, props);
      const name = prebuiltFunctionName(props.entry, props.includeSharp ?? false, house.architecture);
      const asset = path.join(functionsDir, name);
      if (!existsSync(path.join(asset, 'index.js'))) {
        throw new Error(
          `The pre-built function ${name} is missing from ${functionsDir}: this copy of the package was not built ` +
            `completely (npm run build). Reinstall the package.`,
        );
      }
      super(scope, id, { ...house, code: lambda.Code.fromAsset(asset), handler: 'index.handler' });
      acknowledgeXrayWildcard(this);
    }
  };
}

function sourceNodeFunction() {
  return class SourceNodeFunction extends NodejsFunction {
    constructor(scope: Construct, id: string, props: NodeFunctionProps) {
      const house = houseProps(scope, id, props);
      super(scope, id, {
        ...house,
        entry: path.resolve(REPO_ROOT, props.entry),
        handler: 'handler',
        projectRoot: REPO_ROOT,
        depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
        bundling: functionBundling(props.bundleAwsSdk ?? false, props.includeSharp ?? false, house.architecture),
      });
      acknowledgeXrayWildcard(this);
    }
  };
}

/**
 * How a handler is bundled: here at synth from source, and by `npm run build` for the package (scripts/build-package.ts
 * uses the same settings, so both ship the same code).
 */
export function functionBundling(bundleAwsSdk: boolean, includeSharp: boolean, architecture: lambda.Architecture) {
  return {
    // CommonJS so `require` resolves both the runtime's @aws-sdk (via NODE_PATH) and the installed sharp.
    format: OutputFormat.CJS,
    minify: true,
    sourceMap: true,
    sourcesContent: false,
    // The runtime ships every @aws-sdk/client-* with its @smithy and core packages; helper libraries it may
    // not ship (lib-dynamodb, util-dynamodb, s3-presigned-post) are bundled so a cold start cannot miss them.
    externalModules: bundleAwsSdk ? [] : AWS_SDK_IN_RUNTIME,
    forceDockerBundling: false,
    ...(includeSharp ? imageDecoderBundling(npmCpu(architecture)) : {}),
  };
}

export const AWS_SDK_IN_RUNTIME = ['@aws-sdk/client-*', '@aws-sdk/core', '@aws-sdk/credential-provider-*', '@smithy/*'];

/**
 * Installed next to the processor's bundle rather than bundled into it: sharp for its native binaries, libheif-js (a
 * 2 MB WebAssembly build, loaded only for a HEIC) to keep the LGPL library a separate, replaceable file.
 */
export const IMAGE_DECODER_MODULES = ['sharp', 'libheif-js'];

/** The npm `cpu` value for a Lambda architecture. */
export function npmCpu(architecture: lambda.Architecture): 'arm64' | 'x64' {
  if (architecture.name === lambda.Architecture.ARM_64.name) return 'arm64';
  if (architecture.name === lambda.Architecture.X86_64.name) return 'x64';
  throw new Error(`NodeFunction supports arm64 and x86_64, got architecture "${architecture.name}"`);
}

/**
 * Installs sharp (and libheif-js) in the asset for Linux/glibc on the given CPU. `prefer_offline` makes npm use its
 * cache instead of retrying the registry (which, offline, ends with the optional @img packages silently dropped); the
 * afterBundling check then fails the synth if the binary is missing or built for another CPU.
 */
function imageDecoderBundling(cpu: 'arm64' | 'x64') {
  return {
    nodeModules: IMAGE_DECODER_MODULES,
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
