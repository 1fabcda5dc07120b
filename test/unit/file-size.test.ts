import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The house rule: files in lambdas/ stay under ~300 lines, or say in their header why not.
const ROOT = path.join(__dirname, '..', '..', 'lambdas');
const LIMIT = 300;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe('file size', () => {
  const files = sources(ROOT).map((file) => ({ file, text: readFileSync(file, 'utf8') }));

  it('finds the Lambda sources (not vacuous)', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it(`every file in lambdas/ over ${LIMIT} lines says why, in a comment naming the house limit`, () => {
    const long = files.filter(({ text }) => text.split('\n').length > LIMIT);
    expect(long.length).toBeGreaterThan(0);
    const unexplained = long
      .filter(({ text }) => !/over the house limit|longer than the house limit/i.test(text))
      .map(({ file }) => path.relative(ROOT, file));
    expect(unexplained).toEqual([]);
  });
});
