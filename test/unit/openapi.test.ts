import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import * as fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { contractDocuments, OPENAPI_PATH } from '../../contracts/documents';
import { collectRefs, type JsonSchema, resolvePointer } from '../../contracts/json-schema';
import { CREATE_CHECK_REQUEST_EXAMPLES } from '../../contracts/openapi';
import { parseCreateCheckRequest } from '../../lambdas/core/create-request';
import { contractInputs, REPO_ROOT } from '../../scripts/generate-contracts';

// The OpenAPI document is generated from the handlers' zod schemas; these tests keep the committed file equal to what
// the code generates today, and the document itself sound: resolvable refs, schemas that compile, examples that pass.
type Doc = JsonSchema & {
  paths: Record<string, Record<string, JsonSchema>>;
  components: { schemas: Record<string, JsonSchema> };
};

let generated: Doc;
let committed: Doc;
let schemaFor: (pointer: string) => (value: unknown) => { valid: boolean; errors: string };
const RULES = { defaultDeclineThreshold: 30, allowInsecureCallbacks: false };

beforeAll(() => {
  generated = contractDocuments(contractInputs())[OPENAPI_PATH] as Doc;
  committed = JSON.parse(readFileSync(join(REPO_ROOT, OPENAPI_PATH), 'utf8')) as Doc;
  // The components alone, under an $id, so `#/components/schemas/…` refs resolve exactly as in the document.
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  ajv.addKeyword('components');
  ajv.addSchema({ $id: 'https://contracts.test/openapi.json', components: generated.components });
  schemaFor = (pointer) => {
    const validate = ajv.getSchema(`https://contracts.test/openapi.json${pointer}`);
    if (!validate) throw new Error(`no schema at ${pointer}`);
    return (value) => ({ valid: validate(value) as boolean, errors: ajv.errorsText(validate.errors) });
  };
});

describe('api/openapi.json', () => {
  it('is what the code generates today', () => {
    expect(committed, `${OPENAPI_PATH} is out of date: run \`npm run openapi\` and commit the result`).toEqual(
      generated,
    );
  });

  it('is an OpenAPI 3.1 document with the five operations and the outgoing webhook', () => {
    expect(generated.openapi).toBe('3.1.0');
    expect(Object.keys(generated.paths).sort()).toEqual([
      '/v1/liveness-checks',
      '/v1/liveness-checks/{id}',
      '/v1/webhooks/didit',
    ]);
    expect(Object.keys(generated.paths['/v1/liveness-checks'] ?? {})).toEqual(['post', 'get']);
    expect(Object.keys(generated.paths['/v1/liveness-checks/{id}'] ?? {})).toEqual(['get', 'delete']);
    expect(Object.keys(generated.paths['/v1/webhooks/didit'] ?? {})).toEqual(['post']);
    expect(Object.keys(generated.webhooks as object)).toEqual(['livenessCheckEvent']);
  });

  it('resolves every $ref inside the document', () => {
    const refs = collectRefs(generated);
    expect(refs.length).toBeGreaterThan(20);
    const dangling = refs.filter(({ ref }) => resolvePointer(generated, ref) === undefined);
    expect(dangling).toEqual([]);
  });

  it('requires the x-api-key header everywhere except the Didit webhook, which carries its signature headers', () => {
    expect((generated.components as JsonSchema).securitySchemes).toEqual({
      ApiKey: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-api-key' }),
    });
    expect(generated.security).toEqual([{ ApiKey: [] }]);
    const didit = generated.paths['/v1/webhooks/didit']?.post as JsonSchema;
    expect(didit.security).toEqual([]);
    const headers = (didit.parameters as JsonSchema[]).map((p) => [p.in, p.name]);
    expect(headers).toEqual([
      ['header', 'X-Signature-V2'],
      ['header', 'X-Signature'],
      ['header', 'X-Signature-Simple'],
    ]);
  });

  it('documents the error body for 400, 401, 404, 409, 429 and 5xx', () => {
    const statuses = (path: string, method: string) =>
      Object.keys((generated.paths[path]?.[method]?.responses ?? {}) as object);
    expect(statuses('/v1/liveness-checks', 'post')).toEqual(['200', '201', '400', '401', '409', '429', '500', '503']);
    expect(statuses('/v1/liveness-checks/{id}', 'get')).toEqual(['200', '400', '401', '404', '429', '500', '503']);
    expect(statuses('/v1/webhooks/didit', 'post')).toEqual(['200', '400', '401', '429', '500', '503']);
    for (const [path, item] of Object.entries(generated.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        for (const [status, response] of Object.entries(operation.responses as Record<string, JsonSchema>)) {
          if (Number(status) < 400) continue;
          const resolved = (response.$ref ? resolvePointer(generated, response.$ref as string) : response) as {
            content: { 'application/json': { schema: JsonSchema } };
          };
          expect(resolved.content['application/json'].schema, `${method} ${path} ${status}`).toEqual({
            $ref: '#/components/schemas/Error',
          });
        }
      }
    }
  });

  it('compiles every component schema under strict JSON Schema 2020-12', () => {
    for (const name of Object.keys(generated.components.schemas)) {
      expect(() => schemaFor(`#/components/schemas/${name}`), name).not.toThrow();
    }
  });

  it('gives every example request a body the handler accepts, and every example a value its schema accepts', () => {
    for (const [name, example] of Object.entries(CREATE_CHECK_REQUEST_EXAMPLES)) {
      expect(() => parseCreateCheckRequest(JSON.stringify(example.value), RULES), name).not.toThrow();
    }
    // Every media type with examples in the document, the request examples above included.
    const media = collectMediaExamples(generated);
    expect(media.length).toBeGreaterThanOrEqual(10);
    for (const { at, schemaRef, value } of media) {
      const result = schemaFor(schemaRef)(value);
      expect(result.valid, `${at}: ${result.errors}`).toBe(true);
    }
  });

  it('describes the request body no stricter than the handler: anything the handler accepts, the schema accepts', () => {
    const accepts = schemaFor('#/components/schemas/CreateCheckRequest');
    let acceptedByHandler = 0;
    fc.assert(
      fc.property(createRequestBodies(), (body) => {
        let handlerAccepts = true;
        try {
          parseCreateCheckRequest(JSON.stringify(body), RULES);
        } catch {
          handlerAccepts = false;
        }
        if (!handlerAccepts) return;
        acceptedByHandler++;
        expect(accepts(body).valid, JSON.stringify(body)).toBe(true);
      }),
      { numRuns: 200 },
    );
    expect(acceptedByHandler).toBeGreaterThan(40);
    // And what it can express, it refuses as the handler does.
    for (const body of [{ nope: 1 }, { face_liveness_score_decline_threshold: 101 }, { content_type: 'image/gif' }]) {
      expect(accepts(body).valid, JSON.stringify(body)).toBe(false);
      expect(() => parseCreateCheckRequest(JSON.stringify(body), RULES)).toThrow();
    }
  });
});

function collectMediaExamples(doc: Doc): Array<{ at: string; schemaRef: string; value: unknown }> {
  const found: Array<{ at: string; schemaRef: string; value: unknown }> = [];
  const visit = (node: unknown, at: string) => {
    if (!node || typeof node !== 'object') return;
    const media = (node as Record<string, unknown>)['application/json'] as
      | { schema?: JsonSchema; examples?: Record<string, { value: unknown }> }
      | undefined;
    if (media?.schema?.$ref && media.examples) {
      for (const [name, example] of Object.entries(media.examples)) {
        found.push({ at: `${at}/${name}`, schemaRef: media.schema.$ref as string, value: example.value });
      }
    }
    for (const [key, value] of Object.entries(node)) visit(value, `${at}/${key}`);
  };
  visit(doc, '#');
  return found;
}

/** Bodies whose fields are valid four times in five; the rest probe the edges (wrong types, out of range). */
function createRequestBodies() {
  const mostly = <T, U>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<U>) =>
    fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: other, weight: 1 });
  return fc.record(
    {
      face_liveness_score_decline_threshold: mostly(
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.oneof(fc.double({ min: -10, max: 110, noNaN: true }), fc.string()),
      ),
      rotate_image: mostly(fc.boolean(), fc.constant('true')),
      save_api_request: fc.boolean(),
      vendor_data: mostly(fc.string({ minLength: 1, maxLength: 1024 }), fc.string({ maxLength: 1100 })),
      metadata: mostly(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }), fc.constant(null)),
      callback_url: mostly(fc.webUrl({ validSchemes: ['https'] }), fc.string()),
      content_type: mostly(
        fc.constantFrom('image/jpeg', 'image/png', 'image/webp', 'image/tiff', 'image/heic', 'image/heif'),
        fc.string(),
      ),
    },
    { requiredKeys: [] },
  );
}
