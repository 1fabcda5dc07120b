import { Aspects, CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { WriteNagSuppressionsToCloudFormationAspect } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** The template metadata key cdk-nag's aspect writes (`{ rules_to_suppress: [{ id, reason }] }`, cdk-nag v2's format). */
export const NAG_METADATA_KEY = 'cdk_nag';

/**
 * Writes every acknowledgement that applies to a resource of the stack into that resource's template metadata, so a
 * reviewer who sees only the template sees each acknowledged finding and its reason. Added once per stack.
 */
export function writeAcknowledgementsToTemplate(scope: IConstruct): void {
  const stack = Stack.of(scope);
  if (Aspects.of(stack).all.some((aspect) => aspect instanceof WriteNagSuppressionsToCloudFormationAspect)) return;
  Aspects.of(stack).add(new WriteNagSuppressionsToCloudFormationAspect());
}

interface WrittenAcknowledgement {
  readonly id: string;
  readonly reason: string;
}

/**
 * The reverse, for a template read back with `CfnInclude`: acknowledges on each resource what its `cdk_nag` metadata
 * lists, so cdk-nag's packs run on the template alone give the answer they gave at synth (cdk-nag 3 reads only
 * construct metadata, not template metadata). Returns how many acknowledgements it recorded.
 */
export function acknowledgeFromTemplateMetadata(root: IConstruct): number {
  let count = 0;
  for (const node of root.node.findAll()) {
    if (!CfnResource.isCfnResource(node)) continue;
    const written = (node.cfnOptions.metadata?.[NAG_METADATA_KEY] as { rules_to_suppress?: unknown } | undefined)
      ?.rules_to_suppress;
    if (!Array.isArray(written)) continue;
    for (const entry of written as WrittenAcknowledgement[]) {
      if (typeof entry?.id !== 'string' || typeof entry.reason !== 'string' || entry.reason.trim() === '') {
        throw new Error(`${node.node.path}: ${NAG_METADATA_KEY} metadata holds an entry without id and reason`);
      }
      Validations.of(node).acknowledge({ id: entry.id, reason: entry.reason });
      count++;
    }
  }
  return count;
}
