import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { convertSchema, type JsonSchema } from '../../contracts/json-schema';
import { type CreateRequestRules, createCheckRequestSchema } from '../../lambdas/core/create-request';

/**
 * The `POST /v1/liveness-checks` body as an API Gateway model, generated from `createCheckRequestSchema`, the schema
 * the create-check handler validates with, so the gateway can refuse a malformed body before a Lambda runs:
 *
 * ```ts
 * const model = api.addModel('CreateCheckRequest', {
 *   contentType: 'application/json',
 *   schema: createCheckRequestModel(rules),
 * });
 * checks.addMethod('POST', integration, {
 *   requestModels: { 'application/json': model },
 *   requestValidatorOptions: { validateRequestBody: true },
 * });
 * ```
 *
 * The model is a pre-filter, never the whole rule set: it checks types, ranges, lengths, the content type enum and
 * unknown fields, but not the refinements (metadata size, depth and keys, valid Unicode, the callback URL rules),
 * which have no JSON Schema form and stay in the handler. It never refuses a body the handler accepts (a unit test
 * holds it to that).
 */
export function createCheckRequestModel(rules: CreateRequestRules): apigateway.JsonSchema {
  return {
    schema: apigateway.JsonSchemaVersion.DRAFT4,
    title: 'CreateCheckRequest',
    ...toModel(createCheckRequestDraft4(rules)),
  };
}

/** The same model as plain JSON Schema draft 4, e.g. for an OpenAPI import or a test validator. */
export function createCheckRequestDraft4(rules: CreateRequestRules): JsonSchema {
  return modelSubset(convertSchema(createCheckRequestSchema(rules), 'draft-04'), '#');
}

/** Keywords API Gateway's draft 4 validator enforces; the model may use these and nothing else. */
const VALIDATION_KEYWORDS = new Set([
  'type',
  'properties',
  'additionalProperties',
  'required',
  'enum',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'items',
]);

/**
 * Annotations API Gateway does not enforce. `default` is never applied by the gateway (the handler applies it), and
 * `format` is left to the handler rather than to whichever draft 4 formats the gateway's validator knows.
 */
const DROPPED_KEYWORDS = new Set(['default', 'examples', 'format', 'description', 'title']);

/**
 * Keeps what API Gateway models enforce and refuses the rest, so a new request field whose schema the gateway cannot
 * express (anyOf/oneOf unions, $ref, exclusiveMinimum, minItems/maxItems, which simple request validation skips)
 * fails the synth with its path instead of becoming a model that silently checks less than it seems to.
 */
function modelSubset(schema: JsonSchema, path: string): JsonSchema {
  const out: JsonSchema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (DROPPED_KEYWORDS.has(keyword)) continue;
    if (!VALIDATION_KEYWORDS.has(keyword)) {
      throw new Error(`${path}: "${keyword}" has no API Gateway model equivalent; simplify the field or drop it here`);
    }
    if (keyword === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, sub]) => [
          name,
          modelSubset(sub, `${path}/properties/${name}`),
        ]),
      );
    } else if ((keyword === 'additionalProperties' || keyword === 'items') && typeof value === 'object') {
      const sub = modelSubset(value as JsonSchema, `${path}/${keyword}`);
      // `additionalProperties: {}` (anything) is draft 4's default; omitting it keeps the model minimal.
      if (keyword === 'additionalProperties' && Object.keys(sub).length === 0) continue;
      out[keyword] = sub;
    } else if (keyword === 'required' && Array.isArray(value) && value.length === 0) {
      // Draft 4 requires at least one entry, and API Gateway refuses the model otherwise.
    } else {
      out[keyword] = value;
    }
  }
  return out;
}

/** Plain JSON Schema to CDK's JsonSchema: the same keys (the allowlist above is a subset of CDK's type). */
function toModel(schema: JsonSchema): apigateway.JsonSchema {
  const out: Record<string, unknown> = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, sub]) => [name, toModel(sub)]),
      );
    } else if ((keyword === 'additionalProperties' || keyword === 'items') && typeof value === 'object') {
      out[keyword] = toModel(value as JsonSchema);
    } else {
      out[keyword] = value;
    }
  }
  return out as apigateway.JsonSchema;
}
