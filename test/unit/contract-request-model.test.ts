import Ajv from 'ajv';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCreateCheckRequest } from '../../lambdas/core/create-request';
import { createCheckRequestDraft4, createCheckRequestModel } from '../../lib/parts/request-model';

// The API Gateway model for POST /v1/liveness-checks, derived from the handler's zod schema. It may check less than
// the handler (refinements stay there) but must never refuse a body the handler accepts.
const RULES = { defaultDeclineThreshold: 30, allowInsecureCallbacks: false };

/** Draft 7 Ajv stands in for API Gateway's draft 4 validator: the model's keywords mean the same in both. */
function modelValidator() {
  const validate = new Ajv({ strict: true, allErrors: true }).compile(createCheckRequestDraft4(RULES));
  return (body: unknown) => validate(body) as boolean;
}

/** Valid values four times in five, so most bodies reach the comparison; the rest probe the edges. */
function mostly<T, U>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<U>) {
  return fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: other, weight: 1 });
}

function handlerAccepts(body: unknown): boolean {
  try {
    parseCreateCheckRequest(JSON.stringify(body), RULES);
    return true;
  } catch {
    return false;
  }
}

describe('createCheckRequestModel', () => {
  it('keeps only what API Gateway enforces: types, ranges, lengths, the content type enum, no unknown fields', () => {
    expect(createCheckRequestDraft4(RULES)).toEqual({
      type: 'object',
      properties: {
        face_liveness_score_decline_threshold: { type: 'number', minimum: 0, maximum: 100 },
        rotate_image: { type: 'boolean' },
        save_api_request: { type: 'boolean' },
        vendor_data: { type: 'string', minLength: 1, maxLength: 1024 },
        metadata: { type: 'object' },
        callback_url: { type: 'string', maxLength: 2048 },
        content_type: {
          type: 'string',
          enum: ['image/jpeg', 'image/png', 'image/webp', 'image/tiff', 'image/heic', 'image/heif'],
        },
      },
      additionalProperties: false,
    });
  });

  it('does not depend on the rules: defaults and callback rules are applied by the handler only', () => {
    expect(createCheckRequestDraft4({ defaultDeclineThreshold: 55, allowInsecureCallbacks: true })).toEqual(
      createCheckRequestDraft4(RULES),
    );
  });

  it('never refuses a body the handler accepts', () => {
    const accepts = modelValidator();
    let acceptedByHandler = 0;
    fc.assert(
      fc.property(
        fc.record(
          {
            face_liveness_score_decline_threshold: mostly(fc.double({ min: 0, max: 100, noNaN: true }), fc.double()),
            rotate_image: mostly(fc.boolean(), fc.constant(1)),
            save_api_request: fc.boolean(),
            vendor_data: mostly(fc.string({ minLength: 1, maxLength: 1024 }), fc.string({ maxLength: 1030 })),
            metadata: mostly(
              fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
              fc.array(fc.integer()),
            ),
            callback_url: mostly(fc.webUrl({ validSchemes: ['https'] }), fc.string()),
            content_type: mostly(
              fc.constantFrom('image/jpeg', 'image/png', 'image/webp', 'image/tiff', 'image/heic', 'image/heif'),
              fc.string(),
            ),
          },
          { requiredKeys: [] },
        ),
        (body) => {
          if (!handlerAccepts(body)) return;
          acceptedByHandler++;
          expect(accepts(body), JSON.stringify(body)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
    // Enough of the generated bodies were valid for the property to mean something.
    expect(acceptedByHandler).toBeGreaterThan(50);
  });

  it('refuses at the gateway what it can express: wrong types, out of range, too long, unknown fields', () => {
    const accepts = modelValidator();
    for (const body of [
      { face_liveness_score_decline_threshold: 101 },
      { face_liveness_score_decline_threshold: '30' },
      { rotate_image: 'yes' },
      { vendor_data: '' },
      { vendor_data: 'x'.repeat(1025) },
      { metadata: 'a string' },
      { content_type: 'image/gif' },
      { unknown: true },
    ]) {
      expect(accepts(body), JSON.stringify(body)).toBe(false);
      expect(handlerAccepts(body), JSON.stringify(body)).toBe(false);
    }
    // An empty body reaches validation as {} (API Gateway does the same), and needs nothing.
    expect(accepts({})).toBe(true);
  });

  it('synthesizes as a draft 4 API Gateway model with no empty `required` (which API Gateway refuses)', () => {
    const stack = new Stack();
    const api = new apigateway.RestApi(stack, 'Api');
    const model = api.addModel('CreateCheckRequest', {
      contentType: 'application/json',
      schema: createCheckRequestModel(RULES),
    });
    api.root.addMethod('POST', new apigateway.MockIntegration(), {
      requestModels: { 'application/json': model },
      requestValidatorOptions: { validateRequestBody: true },
    });
    const template = Template.fromStack(stack);
    const models = template.findResources('AWS::ApiGateway::Model');
    const [resource] = Object.values(models) as Array<{ Properties: { Schema: Record<string, unknown> } }>;
    expect(resource?.Properties.Schema).toEqual({
      $schema: 'http://json-schema.org/draft-04/schema#',
      title: 'CreateCheckRequest',
      ...createCheckRequestDraft4(RULES),
    });
    expect(JSON.stringify(resource?.Properties.Schema)).not.toContain('"required":[]');
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true });
  });
});
