import { z } from 'zod';

/** A JSON Schema (or OpenAPI Schema Object) as plain JSON. */
export type JsonSchema = { [keyword: string]: unknown };

export type JsonSchemaTarget = 'draft-2020-12' | 'draft-04';

export const JSON_SCHEMA_DIALECTS: Readonly<Record<JsonSchemaTarget, string>> = {
  'draft-2020-12': 'https://json-schema.org/draft/2020-12/schema',
  'draft-04': 'http://json-schema.org/draft-04/schema#',
};

export interface ConvertOptions {
  readonly target: JsonSchemaTarget;
  /** Prefix of every `$ref` to another named schema, e.g. `#/components/schemas/` or `#/$defs/`. */
  readonly refPrefix: string;
}

/**
 * Converts named zod schemas in one pass, so a schema that uses another named one refers to it with `$ref` instead of
 * inlining a copy. Input mode: a request field with a default is optional, which is what a client may send; every
 * response and event schema is written without defaults or transforms, so input and output are the same for them.
 *
 * Refinements (`.refine`, `.superRefine`) have no JSON Schema form and are left out; the handler still applies them.
 * Anything else without a JSON Schema form throws, so a new field cannot silently become `{}`.
 */
export function convertNamedSchemas(
  named: Readonly<Record<string, z.ZodType>>,
  options: ConvertOptions,
): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: options.target,
    io: 'input',
    unrepresentable: 'throw',
    uri: (id) => `${options.refPrefix}${id}`,
    override: ({ jsonSchema }) => tidy(jsonSchema as JsonSchema),
  }) as { schemas: Record<string, JsonSchema> };
  if ('__shared' in schemas) {
    // A reused schema without a name would land in a detached `__shared` document that no $ref here can reach.
    throw new Error(`Schemas reused without a name: ${Object.keys(schemas.__shared ?? {}).join(', ')}`);
  }
  const out: Record<string, JsonSchema> = {};
  for (const id of Object.keys(named)) {
    // Each named schema becomes a part of a larger document, which carries the dialect and the identity.
    const { $schema: _dialect, $id: _id, ...rest } = schemas[id] as JsonSchema;
    out[id] = rest;
  }
  return out;
}

/** Converts one schema on its own (no named parts), e.g. a request model. */
export function convertSchema(schema: z.ZodType, target: JsonSchemaTarget): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target,
    io: 'input',
    unrepresentable: 'throw',
    override: ({ jsonSchema }) => tidy(jsonSchema as JsonSchema),
  }) as JsonSchema;
  return rest;
}

/**
 * Removes what zod adds for its own exactness but a reader (or API Gateway) gains nothing from: the long regular
 * expressions behind `format: date-time` / `uuid` (the format names the rule), the ±2^53 bounds of `.int()`, and
 * `propertyNames: {type: string}` on records (every JSON key is a string).
 */
function tidy(schema: JsonSchema): void {
  if (typeof schema.format === 'string' && typeof schema.pattern === 'string') delete schema.pattern;
  if (schema.minimum === Number.MIN_SAFE_INTEGER) delete schema.minimum;
  if (schema.maximum === Number.MAX_SAFE_INTEGER) delete schema.maximum;
  const names = schema.propertyNames as JsonSchema | undefined;
  if (names && Object.keys(names).length === 1 && names.type === 'string') delete schema.propertyNames;
}

/** Every `$ref` in a document, with the JSON pointer of the object holding it. */
export function collectRefs(document: unknown, path = '#'): Array<{ at: string; ref: string }> {
  if (Array.isArray(document)) return document.flatMap((item, i) => collectRefs(item, `${path}/${i}`));
  if (!document || typeof document !== 'object') return [];
  const refs: Array<{ at: string; ref: string }> = [];
  for (const [key, value] of Object.entries(document)) {
    if (key === '$ref' && typeof value === 'string') refs.push({ at: path, ref: value });
    else refs.push(...collectRefs(value, `${path}/${escapePointer(key)}`));
  }
  return refs;
}

/** Resolves a local `#/…` JSON pointer in `document`, or returns undefined when nothing is there. */
export function resolvePointer(document: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = document;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!node || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
