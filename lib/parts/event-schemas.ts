import * as eventschemas from 'aws-cdk-lib/aws-eventschemas';
import { Construct } from 'constructs';
import { registrySchemas } from '../../contracts/documents';

export interface EventSchemasProps {
  /**
   * Name of the schema registry to create.
   * @default a name CloudFormation generates
   */
  readonly registryName?: string;
  /**
   * Description of the registry.
   * @default 'Events published by the Didit liveness service'
   */
  readonly description?: string;
}

/**
 * Publishes the schema of every event the service puts on its bus to an EventBridge schema registry, so subscribers
 * can browse them and download code bindings. The schemas are generated at synth time from the same zod definitions
 * as schemas/events/*.json, as JSON Schema draft 4, the newest JSON Schema version the registry accepts. Changing
 * an event's schema updates its registry entry, which keeps the earlier versions.
 */
export class EventSchemas extends Construct {
  public readonly registry: eventschemas.CfnRegistry;
  /** One schema per detail-type, keyed by detail-type. */
  public readonly schemas: Readonly<Record<string, eventschemas.CfnSchema>>;

  constructor(scope: Construct, id: string, props: EventSchemasProps = {}) {
    super(scope, id);

    this.registry = new eventschemas.CfnRegistry(this, 'Registry', {
      ...(props.registryName ? { registryName: props.registryName } : {}),
      description: props.description ?? 'Events published by the Didit liveness service',
    });

    const schemas: Record<string, eventschemas.CfnSchema> = {};
    for (const schema of registrySchemas()) {
      schemas[schema.detailType] = new eventschemas.CfnSchema(this, schema.name, {
        registryName: this.registry.attrRegistryName,
        schemaName: schema.schemaName,
        type: 'JSONSchemaDraft4',
        description: schema.description,
        content: JSON.stringify(schema.content),
      });
    }
    this.schemas = schemas;
  }
}
