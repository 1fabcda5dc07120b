import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import { AwsSolutionsChecks, HIPAASecurityChecks, type NagPack, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { acknowledgeFromTemplateMetadata } from '../../lib/profile/nag-metadata';

/** The compliance packs the regulated profile is measured against, and AwsSolutions, which every synth runs. */
export const PACKS: ReadonlyArray<[string, () => NagPack]> = [
  ['HIPAA Security', () => new HIPAASecurityChecks()],
  ['NIST 800-53 rev 5', () => new NIST80053R5Checks()],
  ['PCI DSS 3.2.1', () => new PCIDSS321Checks()],
  ['AwsSolutions', () => new AwsSolutionsChecks()],
];

/** `<rule id> <logical id>` for every unacknowledged finding of the pack under `scope`, sorted. */
export function findings(pack: NagPack, scope: IConstruct): string[] {
  const stack = Stack.of(scope);
  const byPath = new Map(stack.node.findAll().map((node) => [node.node.path, node]));
  return pack
    .validateScope(scope)
    .violations.flatMap((violation) =>
      violation.violatingResources.map((resource) => {
        const constructPath = resource.constructPath ?? '';
        const node = byPath.get(constructPath) as CfnElement | undefined;
        // The resolved logical id: an included template's resources keep theirs (an override of the allocated one).
        return `${violation.ruleName} ${node ? stack.resolve(node.logicalId) : constructPath}`;
      }),
    )
    .sort();
}

/**
 * A synthesized template read back the way a reviewer without the CDK app would: `CfnInclude` into a new stack, with
 * the acknowledgements its `cdk_nag` metadata lists (unless `readMetadata` is false). Logical ids are kept.
 */
export function includeTemplate(template: unknown, readMetadata = true): { stack: Stack; acknowledgements: number } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'liveness-template-'));
  try {
    const file = path.join(dir, 'template.json');
    writeFileSync(file, JSON.stringify(template));
    const stack = new Stack(new App(), 'Reviewer');
    const included = new CfnInclude(stack, 'Template', { templateFile: file });
    return { stack, acknowledgements: readMetadata ? acknowledgeFromTemplateMetadata(included) : 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every acknowledgement recorded under `root`: id, reason and the path of the construct it was recorded on. */
export function acknowledgementsUnder(root: IConstruct): Array<{ id: string; reason: string; path: string }> {
  return root.node.findAll().flatMap((node) =>
    node.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && entry.data)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          id: id.replace(/^annotation::/i, ''),
          reason,
          path: node.node.path,
        })),
      ),
  );
}
