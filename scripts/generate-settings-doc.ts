import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { contextRange, humanDuration, SECONDS_PER, type SettingSpec } from '../lambdas/core/settings/kinds';
import { SETTINGS_RULES } from '../lambdas/core/settings/rules';
import { type SettingName, settingEntries } from '../lambdas/core/settings/schema';

/**
 * Writes the settings tables of docs/operations.md and README.md from the settings schema (`npm run docs:settings`).
 * Only the regions between the GENERATED markers are rewritten; the drift test regenerates them in memory and fails
 * when a committed file differs.
 */

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** README's short table: the settings a first deployment usually touches; the full table is in docs/operations.md. */
const README_SETTINGS: readonly SettingName[] = [
  'prescreen',
  'defaultDeclineThreshold',
  'uploadRetentionDays',
  'checkRetentionDays',
  'uploadUrlTtlSeconds',
  'architecture',
  'diditBaseUrl',
  'corsAllowedOrigins',
];

/** Each generated region's content, by file and region name. */
export function generatedRegions(): Record<string, Record<string, string>> {
  return {
    'docs/operations.md': { settings: settingsSection(), 'function-environment': functionEnvironmentTable() },
    'README.md': { 'context-settings': readmeTable() },
  };
}

/** The file's text with every generated region replaced; throws when a region's markers are missing. */
export function regenerate(path: string, text: string): string {
  let result = text;
  for (const [name, content] of Object.entries(generatedRegions()[path] ?? {})) {
    const begin = `<!-- BEGIN GENERATED ${name}: \`npm run docs:settings\` writes this from lambdas/core/settings -->`;
    const end = `<!-- END GENERATED ${name} -->`;
    const from = result.indexOf(begin);
    const to = result.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${path} has no region "${name}" (the lines ${begin} … ${end})`);
    result = `${result.slice(0, from + begin.length)}\n\n${content}\n\n${result.slice(to)}`;
  }
  return result;
}

function settingsSection(): string {
  const rows = settingEntries()
    .filter(([, spec]) => spec.kind !== 'resource' && (spec.context || spec.prop || spec.propNote))
    .map(([name, spec]) => [
      spec.context ? code(spec.context) : '—',
      spec.prop ? code(name) : (spec.propNote ?? '—'),
      defaultOf(spec, spec.context ? 'context' : 'prop'),
      valuesOf(spec, spec.context ? 'context' : 'prop'),
      spec.doc,
    ]);
  const rules = SETTINGS_RULES.map((rule) => `- ${rule.summary}: ${rule.why}.`);
  return [
    table(['context key', 'prop', 'default', 'values', 'meaning'], rows),
    'Settings that are valid alone but not together:',
    rules.join('\n'),
  ].join('\n\n');
}

function functionEnvironmentTable(): string {
  const rows = settingEntries().flatMap(([name, spec]) => {
    if (!spec.env) return [];
    const setBy = {
      stack: spec.context || spec.prop ? `the stack (${code(name)})` : 'the stack',
      local: 'local stack',
    };
    return [
      [
        code(spec.env.name),
        spec.env.readBy.join(', '),
        spec.env.setBy ? setBy[spec.env.setBy] : '—',
        defaultOf(spec, 'env'),
        valuesOf(spec, 'env'),
        spec.doc,
      ],
    ];
  });
  return table(['variable', 'read by', 'set by', 'default', 'values', 'meaning'], rows);
}

function readmeTable(): string {
  const entries = new Map(settingEntries());
  const rows = README_SETTINGS.map((name) => {
    const spec = entries.get(name);
    if (!spec?.context) throw new Error(`README setting ${name} is not a context setting`);
    return [code(spec.context), defaultOf(spec, 'context'), valuesOf(spec, 'context'), spec.doc];
  });
  return table(['key', 'default', 'values', 'meaning'], rows);
}

type Form = 'context' | 'prop' | 'env';

function defaultOf(spec: SettingSpec, form: Form): string {
  if (spec.defaultText !== undefined) return spec.defaultText;
  switch (spec.kind) {
    case 'opaque':
      return spec.defaultText;
    case 'resource':
      return '—';
    case 'duration':
      if (form === 'context') return code(String(spec.default / SECONDS_PER[spec.unit]));
      return form === 'env' ? code(String(spec.default)) : humanDuration(spec.default);
    case 'list':
      return code(JSON.stringify(spec.default));
    case 'text':
      return spec.default === undefined ? '—' : code(spec.default);
    default:
      return code(String(spec.default));
  }
}

function valuesOf(spec: SettingSpec, form: Form): string {
  const unit = 'unit' in spec && spec.unit ? ` ${spec.unit}` : '';
  switch (spec.kind) {
    case 'boolean':
      return form === 'env' ? '`true`, `false` (or `1`, `0`)' : '`true`, `false`';
    case 'integer':
      return `whole ${spec.min}–${spec.max}${unit}`;
    case 'number':
      return `${spec.min}–${spec.max}${unit}`;
    case 'duration': {
      const prop = spec.prop ? `\`Duration\` ${humanDuration(spec.min)}–${humanDuration(spec.max)}` : '';
      if (form === 'env') return `whole ${spec.min}–${spec.max} seconds`;
      if (form === 'prop') return prop;
      const { min, max } = contextRange(spec);
      return `whole ${min}–${max}${unit}${prop ? `; prop: ${prop}` : ''}`;
    }
    case 'choice':
      return abbreviate(spec.choices.map((choice) => code(String(choice))));
    case 'url':
      return form === 'env' ? 'http(s) URL' : 'https URL';
    case 'list':
      return spec.wildcard === undefined
        ? `list of ${spec.of}${spec.mayBeEmpty ? ' (may be empty)' : ''}`
        : `list of ${spec.of}, or ${code(spec.wildcard)} alone`;
    case 'text':
      return spec.what;
    case 'resource':
      return 'name or ARN';
    case 'opaque':
      return '—';
  }
}

/** Long choice lists keep their first eight and last values, so the table stays readable. */
function abbreviate(items: readonly string[]): string {
  return items.length > 10 ? [...items.slice(0, 8), '…', items.at(-1)].join(', ') : items.join(', ');
}

function code(text: string): string {
  return `\`${text}\``;
}

/** A Markdown table padded to its widest cells (the layout the rest of the docs use). */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const escaped = rows.map((row) => row.map((cell) => cell.replaceAll('|', '\\|')));
  const widths = header.map((title, i) => Math.max(title.length, ...escaped.map((row) => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...escaped.map(line)].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const path of Object.keys(generatedRegions())) {
    const file = join(REPO_ROOT, path);
    const before = readFileSync(file, 'utf8');
    const after = regenerate(path, before);
    if (after !== before) writeFileSync(file, after);
    console.log(`${after === before ? 'unchanged' : 'wrote'} ${path}`);
  }
}
