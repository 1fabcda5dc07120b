import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { settingEntries } from '../../lambdas/core/settings/schema';
import { generatedRegions, REPO_ROOT, regenerate } from '../../scripts/generate-settings-doc';

// The settings tables in the docs are generated from the schema; these tests keep the committed files equal to what
// the schema generates today.
describe.each(Object.keys(generatedRegions()))('%s', (path) => {
  const committed = readFileSync(join(REPO_ROOT, path), 'utf8');

  it('has the settings tables the schema generates today', () => {
    expect(committed === regenerate(path, committed), `${path} is out of date: run \`npm run docs:settings\``).toBe(
      true,
    );
  });
});

describe('the generated tables', () => {
  const operations = readFileSync(join(REPO_ROOT, 'docs/operations.md'), 'utf8');

  it('list every context key, prop and environment variable of the schema', () => {
    for (const [name, spec] of settingEntries()) {
      if (spec.context) expect(operations, name).toContain(`| \`${spec.context}\``);
      if (spec.prop) expect(operations, name).toContain(`| \`${name}\``);
      if (spec.env) expect(operations, name).toContain(`| \`${spec.env.name}\``);
    }
  });

  it('refuse a file whose markers are missing rather than write the table nowhere', () => {
    expect(() => regenerate('docs/operations.md', '# Operating the liveness service\n')).toThrow(
      /docs\/operations.md has no region "settings"/,
    );
  });

  it('rewrite only the marked region', () => {
    const begin =
      '<!-- BEGIN GENERATED context-settings: `npm run docs:settings` writes this from lambdas/core/settings -->';
    const end = '<!-- END GENERATED context-settings -->';
    const text = `before\n${begin}\nstale table\n${end}\nafter\n`;
    const result = regenerate('README.md', text);
    expect(result.startsWith(`before\n${begin}\n\n| key`)).toBe(true);
    expect(result.endsWith(`|\n\n${end}\nafter\n`)).toBe(true);
    expect(result).not.toContain('stale table');
  });
});
