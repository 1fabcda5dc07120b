import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../local/free-port';
import { type Moto, startMoto } from '../local/moto';

/**
 * moto_server for the benchmark: the project's own launcher (`stock`, what `npm start` runs) or the same with the
 * jsonpath parse cache (`cached`, the proposed fix to local/moto_launcher.py), so both can be measured in one run.
 */
export type MotoFlavour = 'stock' | 'cached';

const CACHED_LAUNCHER = fileURLToPath(new URL('./moto_launcher_cached.py', import.meta.url));

/** The interpreter local/moto.ts would pick: MOTO_PYTHON, else the pyenv version that has moto_server. */
function pythonWithMoto(): string {
  if (process.env.MOTO_PYTHON) return process.env.MOTO_PYTHON;
  const versions = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  if (existsSync(versions)) {
    for (const version of readdirSync(versions).sort().reverse()) {
      const bin = join(versions, version, 'bin');
      if (existsSync(join(bin, 'moto_server'))) return join(bin, 'python3');
    }
  }
  return 'python3';
}

export async function startBenchMoto(flavour: MotoFlavour): Promise<Moto> {
  if (flavour === 'stock') return startMoto();
  const port = await freePort();
  const child: ChildProcess = spawn(pythonWithMoto(), [CACHED_LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'ignore'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`patched moto_server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`patched moto_server did not answer on ${endpoint} within 30 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    endpoint,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Linux's USER_HZ: /proc times are in these ticks (100 on every mainstream kernel configuration). */
const TICKS_PER_SECOND = 100;

/**
 * CPU milliseconds (user + system) the moto_server listening on `port` has used so far, found through /proc by its
 * command line; undefined where /proc is not available. moto is single-threaded Python, so its CPU per check is the
 * local stack's throughput limit.
 */
export function motoCpuMs(port: number): number | undefined {
  try {
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      const args = cmdline.split('\0');
      if (!args.some((a) => a.includes('moto_launcher')) || args[args.indexOf('-p') + 1] !== String(port)) continue;
      // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
