import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DETAIL_TYPES } from '../../lambdas/core/check-events';
import { LivenessService } from '../../lib/liveness-service';
import { EventSchemas } from '../../lib/parts/event-schemas';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

function synth(props?: ConstructorParameters<typeof EventSchemas>[2]) {
  const stack = new Stack();
  const schemas = new EventSchemas(stack, 'EventSchemas', props);
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Resources;
  return { stack, schemas, template, resources };
}

function schemaResources(resources: Resources) {
  return Object.values(resources).filter((resource) => resource.Type === 'AWS::EventSchemas::Schema');
}

describe('EventSchemas', () => {
  it('creates one registry with a CloudFormation-generated name unless one is given', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::EventSchemas::Registry', 1);
    template.hasResourceProperties('AWS::EventSchemas::Registry', {
      RegistryName: Match.absent(),
      Description: 'Events published by the Didit liveness service',
    });
    synth({ registryName: 'liveness-events' }).template.hasResourceProperties('AWS::EventSchemas::Registry', {
      RegistryName: 'liveness-events',
    });
  });

  it('publishes one JSON Schema draft 4 schema per detail-type, in that registry, named source@Type', () => {
    const { resources, stack, schemas } = synth();
    const registryId = stack.getLogicalId(schemas.registry);
    const published = schemaResources(resources);
    expect(published.map((s) => s.Properties.SchemaName).sort()).toEqual(
      Object.values(DETAIL_TYPES)
        .map((type) => `liveness.service@${type.replace(/\s+/g, '')}`)
        .sort(),
    );
    for (const schema of published) {
      expect(schema.Properties.Type).toBe('JSONSchemaDraft4');
      expect(schema.Properties.RegistryName).toEqual({ 'Fn::GetAtt': [registryId, 'RegistryName'] });
      expect(schema.Properties.Description).toEqual(expect.any(String));
    }
    expect(Object.keys(schemas.schemas).sort()).toEqual(Object.values(DETAIL_TYPES).sort());
  });

  it('puts a draft 4 document in each schema, with the source and detail-type EventBridge code bindings read', () => {
    const { resources } = synth();
    for (const schema of schemaResources(resources)) {
      const text = schema.Properties.Content as string;
      // The registry's limit on Content.
      expect(text.length).toBeLessThan(100_000);
      const content = JSON.parse(text) as Record<string, unknown>;
      const detailType = content['x-amazon-events-detail-type'] as string;
      expect(schema.Properties.SchemaName).toBe(`liveness.service@${detailType.replace(/\s+/g, '')}`);
      expect(content).toMatchObject({
        $schema: 'http://json-schema.org/draft-04/schema#',
        'x-amazon-events-source': 'liveness.service',
        type: 'object',
        properties: {
          source: { enum: ['liveness.service'] },
          'detail-type': { enum: [detailType] },
          detail: { $ref: expect.stringMatching(/^#\/definitions\/\w+Detail$/) },
        },
      });
      // Draft 4 has neither `const` nor `$defs`.
      expect(text).not.toMatch(/"const"|"\$defs"/);
    }
  });
});

describe('LivenessService eventSchemaRegistry', () => {
  it('publishes the event schemas only when asked', () => {
    const on = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'WithRegistry');
    new LivenessService(on, 'Liveness', { eventSchemaRegistry: true });
    const withRegistry = Template.fromStack(on);
    withRegistry.resourceCountIs('AWS::EventSchemas::Registry', 1);
    withRegistry.resourceCountIs('AWS::EventSchemas::Schema', 6);

    const off = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'WithoutRegistry');
    new LivenessService(off, 'Liveness');
    Template.fromStack(off).resourceCountIs('AWS::EventSchemas::Registry', 0);
  });
});
