import { readdirSync, readFileSync } from 'node:fs';
import { type Moto, startMoto } from '../local/moto';

/**
 * moto_server for the benchmark: the project's own launcher, which since the benchmark found it caches moto's
 * jsonpath parser (local/moto_launcher.py). `cached` is kept as a name so older bench.json files still read.
 */
export type MotoFlavour = 'stock' | 'cached';

export async function startBenchMoto(_flavour: MotoFlavour): Promise<Moto> {
  return startMoto();
}

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
