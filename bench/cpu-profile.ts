import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Reads `node --cpu-prof` output and says where the time went: self time grouped by npm package (or "our code",
 * "node internals", "idle", "GC"), plus the hottest functions. Profiles of a bundled file are attributed with the
 * `// node_modules/...` and `// lambdas/...` module markers esbuild writes into an unminified bundle.
 */

interface CpuProfileNode {
  readonly id: number;
  readonly children?: readonly number[];
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  readonly byGroup: { readonly group: string; readonly ms: number; readonly share: number }[];
  /**
   * The same time with Node's own frames (module compilation, loaders) charged to the nearest package or module
   * that asked for them: what each dependency costs, including the compiling it causes.
   */
  readonly byCaller: { readonly group: string; readonly ms: number; readonly share: number }[];
  readonly topFunctions: { readonly name: string; readonly group: string; readonly ms: number }[];
}

/** Line ranges of the modules inside one unminified esbuild bundle, from its `// path` markers. */
function bundleModules(file: string): { line: number; module: string }[] {
  const markers: { line: number; module: string }[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, line) => {
      const match = /^\/\/ ((?:node_modules|lambdas|local)\/\S+)$/.exec(text);
      if (match?.[1]) markers.push({ line, module: match[1] });
    });
  return markers;
}

function groupOf(url: string, line: number, bundles: Map<string, { line: number; module: string }[]>): string {
  if (url === '') return 'node internals';
  if (url.startsWith('node:')) return 'node internals';
  // `node -e "require(bundle)"`: what its require costs is parsing and compiling the bundle file itself.
  if (url.startsWith('[eval]')) return 'the bundle file itself (parse, compile)';
  const local = url.startsWith('file://') ? new URL(url).pathname : url;
  const markers = bundles.get(local);
  const modulePath = markers ? [...markers].reverse().find((m) => m.line <= line)?.module : local;
  if (!modulePath) return '(bundle preamble)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(modulePath)?.[1];
  if (pkg) return pkg;
  if (/\/(lambdas|local|bench)\//.test(`/${modulePath}`))
    return `our code (${modulePath.match(/(lambdas|local|bench)/)?.[1]})`;
  return 'other';
}

export function summarizeProfile(file: string, bundleFiles: readonly string[] = []): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const bundles = new Map(bundleFiles.map((b) => [b, bundleModules(b)]));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byGroup = new Map<string, number>();
  const byCaller = new Map<string, number>();
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const frameGroup = (node: CpuProfileNode): string => {
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') return 'idle';
    if (frame.functionName === '(garbage collector)') return 'GC';
    if (frame.functionName === '(program)') return 'native / program';
    return groupOf(frame.url, frame.lineNumber, bundles);
  };
  const callerGroup = (id: number): string => {
    for (let current: number | undefined = id; current !== undefined; current = parents.get(current)) {
      const node = nodes.get(current);
      if (!node) break;
      const group = frameGroup(node);
      if (group !== 'node internals' && group !== '(bundle preamble)') return group;
    }
    return 'node internals';
  };
  const byFunction = new Map<string, { group: string; ms: number }>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    totalMs += ms;
    const frame = nodes.get(id)?.callFrame;
    if (!frame) return;
    const group = frameGroup(nodes.get(id) as CpuProfileNode);
    byGroup.set(group, (byGroup.get(group) ?? 0) + ms);
    const caller = callerGroup(id);
    byCaller.set(caller, (byCaller.get(caller) ?? 0) + ms);
    const name = `${frame.functionName || '(anonymous)'} ${path.basename(frame.url)}:${frame.lineNumber + 1}`;
    const entry = byFunction.get(name) ?? { group, ms: 0 };
    entry.ms += ms;
    byFunction.set(name, entry);
  });
  const ranked = (groups: Map<string, number>) =>
    [...groups.entries()]
      .map(([group, ms]) => ({ group, ms, share: ms / totalMs }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 10);
  return {
    file,
    totalMs,
    byGroup: ranked(byGroup),
    byCaller: ranked(byCaller),
    topFunctions: [...byFunction.entries()]
      .filter(([, v]) => v.group !== 'idle')
      .map(([name, v]) => ({ name, group: v.group, ms: v.ms }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 10),
  };
}

export function profilesIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}
