import { EVENT_SOURCE } from '../lambdas/core/check-events';
import {
  checkCompletedDetailSchema,
  checkExpiredDetailSchema,
  checkFailedDetailSchema,
  checkUpdatedDetailSchema,
  EVENT_CONTRACTS,
  type EventContract,
  webhookPayloadSchema,
} from './events';
import { convertNamedSchemas, JSON_SCHEMA_DIALECTS, type JsonSchema, type JsonSchemaTarget } from './json-schema';
import { buildOpenApiDocument, type OpenApiInputs } from './openapi';

/** Where each generated document lives, relative to the repository root. */
export const OPENAPI_PATH = 'api/openapi.json';
export const WEBHOOK_PAYLOAD_PATH = 'schemas/webhook-payload.json';
export const eventSchemaPath = (contract: Pick<EventContract, 'file'>) => `schemas/events/${contract.file}.json`;

const defsKeyword = (target: JsonSchemaTarget) => (target === 'draft-2020-12' ? '$defs' : 'definitions');

/**
 * One event's schema: the EventBridge envelope at the root, its detail under `$defs` (or `definitions` in draft 4) as
 * `<Name>Detail`, the shape EventBridge's own schemas and code bindings use.
 */
export function eventSchemaDocument(contract: EventContract, target: JsonSchemaTarget): JsonSchema {
  const defs = defsKeyword(target);
  const detailName = `${contract.name}Detail`;
  const schemas = convertNamedSchemas(
    { [contract.name]: contract.event, [detailName]: contract.detail },
    { target, refPrefix: `#/${defs}/` },
  );
  return {
    $schema: JSON_SCHEMA_DIALECTS[target],
    title: contract.name,
    ...schemas[contract.name],
    [defs]: { [detailName]: schemas[detailName] },
  };
}

/** The webhook body schema: a union on `type`, each variant's `data` one of the four check event details. */
export function webhookPayloadDocument(): JsonSchema {
  const schemas = convertNamedSchemas(
    {
      LivenessWebhookPayload: webhookPayloadSchema,
      LivenessCheckCompletedDetail: checkCompletedDetailSchema,
      LivenessCheckFailedDetail: checkFailedDetailSchema,
      LivenessCheckExpiredDetail: checkExpiredDetailSchema,
      LivenessCheckUpdatedDetail: checkUpdatedDetailSchema,
    },
    { target: 'draft-2020-12', refPrefix: '#/$defs/' },
  );
  const { LivenessWebhookPayload: root, ...details } = schemas;
  return { $schema: JSON_SCHEMA_DIALECTS['draft-2020-12'], title: 'LivenessWebhookPayload', ...root, $defs: details };
}

/** Every generated file: path → document. `npm run contracts` writes them; the drift tests compare against them. */
export function contractDocuments(inputs: OpenApiInputs): Record<string, JsonSchema> {
  return {
    [OPENAPI_PATH]: buildOpenApiDocument(inputs),
    ...Object.fromEntries(
      EVENT_CONTRACTS.map((contract) => [eventSchemaPath(contract), eventSchemaDocument(contract, 'draft-2020-12')]),
    ),
    [WEBHOOK_PAYLOAD_PATH]: webhookPayloadDocument(),
  };
}

export interface RegistrySchema {
  readonly detailType: string;
  /** PascalCase detail-type, e.g. LivenessCheckCompleted. */
  readonly name: string;
  /** `<source>@<DetailTypeWithoutSpaces>`, the naming EventBridge uses for the schemas it discovers. */
  readonly schemaName: string;
  readonly description: string;
  /** A JSON Schema draft 4 document, the JSON Schema version the EventBridge schema registry accepts. */
  readonly content: JsonSchema;
}

/**
 * The event schemas for an EventBridge schema registry. The registry takes OpenAPI 3.0 or JSON Schema draft 4, not
 * 2020-12, so they are generated again from the same zod schemas for draft 4 (`const` becomes a one-value `enum`,
 * `$defs` becomes `definitions`), with the `x-amazon-events-*` keywords EventBridge's code bindings read.
 */
export function registrySchemas(): RegistrySchema[] {
  return EVENT_CONTRACTS.map((contract) => ({
    detailType: contract.detailType,
    name: contract.name,
    schemaName: `${EVENT_SOURCE}@${contract.name}`,
    description: contract.description,
    content: {
      ...eventSchemaDocument(contract, 'draft-04'),
      'x-amazon-events-source': EVENT_SOURCE,
      'x-amazon-events-detail-type': contract.detailType,
    },
  }));
}
