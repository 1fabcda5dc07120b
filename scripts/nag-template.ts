/**
 * `npm run nag:template -- <template.json>`: runs cdk-nag's HIPAA Security, NIST 800-53 rev 5, PCI DSS 3.2.1 and
 * AwsSolutions packs on a synthesized template alone, the way a reviewer without the CDK app would: the template is
 * read back with CfnInclude and the acknowledgements its `cdk_nag` metadata lists (each with its reason) are applied.
 * Prints every unacknowledged finding and exits 1 when there is one.
 */
import { resolve } from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import { acknowledgeFromTemplateMetadata } from '../lib/profile/nag-metadata';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: npm run nag:template -- <synthesized template.json>\n');
  process.exit(2);
}
const stack = new Stack(new App(), 'Reviewed');
const included = new CfnInclude(stack, 'Template', { templateFile: resolve(file) });
const acknowledged = acknowledgeFromTemplateMetadata(included);
const byPath = new Map(stack.node.findAll().map((node) => [node.node.path, node]));
let total = 0;
const lines = [`${file}: ${acknowledged} acknowledgements read from the template's cdk_nag metadata`];
for (const pack of [
  new HIPAASecurityChecks(),
  new NIST80053R5Checks(),
  new PCIDSS321Checks(),
  new AwsSolutionsChecks(),
]) {
  const found = pack.validateScope(stack).violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => {
      const node = byPath.get(resource.constructPath ?? '') as CfnElement | undefined;
      return `  ${violation.ruleName} ${node ? stack.resolve(node.logicalId) : resource.constructPath}`;
    }),
  );
  total += found.length;
  lines.push(`${pack.readPackName}: ${found.length} unacknowledged`, ...found.sort());
}
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(total === 0 ? 0 : 1);
