import { LOCAL_REGION } from './aws-env';

/**
 * Turns the state machines of a synthesized CloudFormation template into runnable Amazon States Language, so local
 * runs execute exactly the JSON that `cdk synth` renders. CDK renders a definition as an `Fn::Join` of string pieces
 * and references (function ARNs, the partition); a resolver decides what each reference stands for locally.
 */

export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_PARTITION = 'aws';

/** A reference the definition makes to the rest of the template. */
export interface TemplateReference {
  readonly Ref?: string;
  readonly 'Fn::GetAtt'?: readonly [string, string];
}

/** Returns the concrete string a reference stands for, or throws when it has no local meaning. */
export type ReferenceResolver = (ref: TemplateReference) => string;

/** The ARN a template's Lambda function gets locally: bind Task handlers to it. */
export function fakeLambdaArn(logicalId: string): string {
  return `arn:${LOCAL_PARTITION}:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${logicalId}`;
}

interface TemplateResource {
  readonly Type?: string;
  readonly Properties?: Record<string, unknown>;
}

interface TemplateParameter {
  readonly Default?: unknown;
}

const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': LOCAL_PARTITION,
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT_ID,
  'AWS::URLSuffix': 'amazonaws.com',
};

function sectionOf<T>(template: object, section: string): Record<string, T> {
  const value = (template as Record<string, unknown>)[section];
  return value && typeof value === 'object' ? (value as Record<string, T>) : {};
}

/**
 * Lambda functions (`Fn::GetAtt [X, 'Arn']` and `Ref X`) become {@link fakeLambdaArn}; the partition, region and
 * account pseudo parameters become local constants; a `Ref` to any other resource becomes its logical id, a `Ref` to
 * a template parameter its default. Everything else throws: wrap this resolver to give other references a meaning.
 */
export function defaultResolver(template: object): ReferenceResolver {
  const resources = sectionOf<TemplateResource>(template, 'Resources');
  const parameters = sectionOf<TemplateParameter>(template, 'Parameters');
  return (ref) => {
    if (ref.Ref !== undefined) {
      const name = ref.Ref;
      const pseudo = PSEUDO_PARAMETERS[name];
      if (pseudo !== undefined) return pseudo;
      const resource = resources[name];
      // A real Ref to a function yields its name; Task resources and FunctionName accept an ARN just as well.
      if (resource?.Type === 'AWS::Lambda::Function') return fakeLambdaArn(name);
      if (resource) return name;
      const parameter = parameters[name];
      if (parameter) {
        const fallback = parameter.Default;
        return typeof fallback === 'string' || typeof fallback === 'number' ? String(fallback) : name;
      }
      throw new Error(
        `cannot resolve { Ref: ${JSON.stringify(name)} }: no such resource, parameter or pseudo parameter`,
      );
    }
    const getAtt = ref['Fn::GetAtt'];
    if (getAtt) {
      const [logicalId, attribute] = getAtt;
      const resource = resources[logicalId];
      if (resource?.Type === 'AWS::Lambda::Function' && attribute === 'Arn') return fakeLambdaArn(logicalId);
      throw new Error(
        `cannot resolve { 'Fn::GetAtt': [${JSON.stringify(logicalId)}, ${JSON.stringify(attribute)}] } ` +
          `(${resource?.Type ?? 'no such resource'}): pass a resolver that knows it`,
      );
    }
    throw new Error(`not a reference: ${JSON.stringify(ref)}`);
  };
}

function isIntrinsic(value: unknown): value is Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || (keys[0] as string).startsWith('Fn::'));
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Evaluates the intrinsics CDK puts in definitions to a concrete value (a string, or a list for Fn::Split). */
class IntrinsicEvaluator {
  constructor(private readonly resolve: ReferenceResolver) {}

  string(value: unknown): string {
    const result = this.value(value);
    if (typeof result === 'string') return result;
    if (typeof result === 'number' || typeof result === 'boolean') return String(result);
    throw new Error(`expected a string, got ${describe(value)}`);
  }

  list(value: unknown): unknown[] {
    const result = this.value(value);
    if (Array.isArray(result)) return result;
    throw new Error(`expected a list, got ${describe(value)}`);
  }

  value(value: unknown): unknown {
    if (!isIntrinsic(value)) return value;
    const [key, argument] = Object.entries(value)[0] as [string, unknown];
    switch (key) {
      case 'Ref':
        if (typeof argument !== 'string') break;
        return this.resolve({ Ref: argument });
      case 'Fn::GetAtt': {
        const parts: unknown[] =
          typeof argument === 'string' ? splitOnce(argument, '.') : Array.isArray(argument) ? argument : [];
        const [logicalId, attribute] = parts;
        if (typeof logicalId !== 'string' || typeof attribute !== 'string') break;
        return this.resolve({ 'Fn::GetAtt': [logicalId, attribute] });
      }
      case 'Fn::Join': {
        if (!Array.isArray(argument) || argument.length !== 2 || typeof argument[0] !== 'string') break;
        return this.list(argument[1])
          .map((part) => this.string(part))
          .join(argument[0]);
      }
      case 'Fn::Select': {
        if (!Array.isArray(argument) || argument.length !== 2) break;
        const index = Number(this.value(argument[0]));
        const list = this.list(argument[1]);
        if (!Number.isInteger(index) || index < 0 || index >= list.length) break;
        return this.value(list[index]);
      }
      case 'Fn::Split': {
        if (!Array.isArray(argument) || argument.length !== 2 || typeof argument[0] !== 'string') break;
        return this.string(argument[1]).split(argument[0]);
      }
      case 'Fn::Sub':
        return this.sub(argument);
    }
    throw new Error(`cannot evaluate ${describe(value)}`);
  }

  private sub(argument: unknown): string {
    const [text, variables] = Array.isArray(argument) ? argument : [argument, {}];
    if (typeof text !== 'string' || !variables || typeof variables !== 'object') {
      throw new Error(`cannot evaluate ${describe({ 'Fn::Sub': argument })}`);
    }
    return text.replace(/\$\{(!?)([^}]*)\}/g, (_match, literal: string, name: string) => {
      if (literal) return `\${${name}}`;
      if (Object.hasOwn(variables, name)) return this.string((variables as Record<string, unknown>)[name]);
      const [logicalId, attribute] = splitOnce(name, '.');
      return attribute === undefined || logicalId.startsWith('AWS::')
        ? this.resolve({ Ref: name })
        : this.resolve({ 'Fn::GetAtt': [logicalId, attribute] });
    });
  }

  /** Resolves intrinsics anywhere inside a JSON value (the object form of a definition). */
  deep(value: unknown): unknown {
    if (isIntrinsic(value)) return this.value(value);
    if (Array.isArray(value)) return value.map((item) => this.deep(item));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.deep(item)]));
    }
    return value;
  }
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + separator.length)];
}

/** `${name}` placeholders CloudFormation fills from DefinitionSubstitutions; unknown names stay as written. */
function substitute(text: string, substitutions: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{([^}]+)\}/g, (match, name: string) => substitutions[name] ?? match);
}

function substituteStrings(value: unknown, substitutions: Readonly<Record<string, string>>): unknown {
  if (typeof value === 'string') return substitute(value, substitutions);
  if (Array.isArray(value)) return value.map((item) => substituteStrings(item, substitutions));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteStrings(item, substitutions)]),
    );
  }
  return value;
}

/**
 * The parsed ASL of every `AWS::StepFunctions::StateMachine` in a synthesized template, by logical id. Handles
 * `DefinitionString` (a string or intrinsics such as CDK's `Fn::Join`), the object form `Definition`, and
 * `DefinitionSubstitutions`. Throws, naming the state machine, on anything it cannot make concrete.
 */
export function renderedDefinitions(
  template: object,
  resolve: ReferenceResolver = defaultResolver(template),
): Record<string, object> {
  const evaluator = new IntrinsicEvaluator(resolve);
  const definitions: Record<string, object> = {};
  for (const [logicalId, resource] of Object.entries(sectionOf<TemplateResource>(template, 'Resources'))) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    try {
      definitions[logicalId] = renderOne(resource.Properties ?? {}, evaluator);
    } catch (error) {
      throw new Error(`state machine ${logicalId}: ${(error as Error).message}`, { cause: error });
    }
  }
  return definitions;
}

function renderOne(properties: Record<string, unknown>, evaluator: IntrinsicEvaluator): object {
  const substitutions: Record<string, string> = {};
  const rawSubstitutions = properties.DefinitionSubstitutions;
  if (rawSubstitutions && typeof rawSubstitutions === 'object') {
    for (const [name, value] of Object.entries(rawSubstitutions)) {
      try {
        substitutions[name] = evaluator.string(value);
      } catch (error) {
        throw new Error(`DefinitionSubstitutions.${name}: ${(error as Error).message}`, { cause: error });
      }
    }
  }

  let definition: unknown;
  if (properties.DefinitionString !== undefined) {
    const text = substitute(evaluator.string(properties.DefinitionString), substitutions);
    try {
      definition = JSON.parse(text);
    } catch (error) {
      throw new Error(`DefinitionString is not JSON after resolution: ${(error as Error).message}`, { cause: error });
    }
  } else if (properties.Definition !== undefined) {
    definition = substituteStrings(evaluator.deep(properties.Definition), substitutions);
  } else if (properties.DefinitionS3Location !== undefined) {
    throw new Error('DefinitionS3Location is not supported: the definition must be in the template');
  } else {
    throw new Error('has no Definition or DefinitionString');
  }
  if (!definition || typeof definition !== 'object' || Array.isArray(definition)) {
    throw new Error('the definition is not a JSON object');
  }
  return definition;
}
