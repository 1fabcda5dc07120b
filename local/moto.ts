import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port';

/**
 * moto_server on 127.0.0.1: S3, DynamoDB, EventBridge, SQS and Secrets Manager in one process that starts in about a
 * second. The local stack and the test suite both use it.
 */
export interface Moto {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const PROJECT_ROOT = join(here, '..');

/** The moto this project is tested with (docs/operations.md, README prerequisites). */
export const MOTO_REQUIREMENT = 'moto[server]==5.2.1';
/** What moto_launcher.py imports: moto's server and the extras it needs. */
const REQUIRED_MODULES = ['moto', 'jsonpath_ng', 'flask', 'flask_cors'] as const;
/** Where `npm start` sets moto up when no Python on the machine has it (git-ignored, like all of .local/). */
export const PROJECT_VENV = join(PROJECT_ROOT, '.local', 'moto-venv');
const SETUP_COMMAND = `python3 -m venv .local/moto-venv && .local/moto-venv/bin/python -m pip install "${MOTO_REQUIREMENT}"`;

/** No Python with moto[server] could be found or set up; `message` is the one thing to tell the person. */
export class MotoUnavailableError extends Error {
  override readonly name = 'MotoUnavailableError';
}

function venvPython(venv: string): string {
  return join(venv, 'bin', 'python');
}

/** The real interpreter behind the pyenv shim: the shim adds seconds to every start. */
async function pyenvPythonWithMoto(): Promise<string | undefined> {
  const versions = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  if (!existsSync(versions)) return undefined;
  for (const version of readdirSync(versions).sort().reverse()) {
    const bin = join(versions, version, 'bin');
    // moto_server alone is not enough: a plain `pip install moto` has it without the server's extras.
    if (existsSync(join(bin, 'moto_server')) && (await missingModules(join(bin, 'python3')))?.length === 0) {
      return join(bin, 'python3');
    }
  }
  return undefined;
}

/** The modules moto_server needs that `python` cannot find, or undefined when `python` does not run at all. */
function missingModules(python: string): Promise<string[] | undefined> {
  const probe = `import importlib.util as u; print(",".join(m for m in ${JSON.stringify(REQUIRED_MODULES)} if u.find_spec(m) is None))`;
  return new Promise((resolve) => {
    execFile(python, ['-c', probe], { timeout: 15_000 }, (error, stdout) => {
      if (error) resolve(undefined);
      else resolve(stdout.trim() === '' ? [] : stdout.trim().split(','));
    });
  });
}

/** Whether Python's package index answers (PIP_INDEX_URL, else PyPI), within a few seconds. */
async function packageIndexReachable(): Promise<boolean> {
  const index = (process.env.PIP_INDEX_URL ?? 'https://pypi.org/simple/').replace(/\/?$/, '/');
  try {
    const res = await fetch(`${index}moto/`, { method: 'HEAD', signal: AbortSignal.timeout(5_000) });
    return res.ok;
  } catch {
    return false;
  }
}

function run(command: string, args: readonly string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

function unavailable(problem: string, why?: string): MotoUnavailableError {
  return new MotoUnavailableError(
    [
      `moto_server is not available: ${problem}.`,
      ...(why ? [why] : []),
      'Run this once in the project folder, then start again (or set MOTO_PYTHON to a Python that has moto[server]):',
      `  ${SETUP_COMMAND}`,
    ].join('\n'),
  );
}

/**
 * The Python to run moto_server with: MOTO_PYTHON if set (it must have moto[server]); else a pyenv version with
 * moto[server]; else the project's own .local/moto-venv; else python3 if it has moto. Failing those, moto[server] is
 * installed into .local/moto-venv when the package index is reachable (once; later starts find it). Anything else ends
 * in a MotoUnavailableError naming the one command to run, never a Python stack trace.
 */
export async function motoPython(log: (line: string) => void = () => undefined): Promise<string> {
  const explicit = process.env.MOTO_PYTHON;
  if (explicit) {
    const missing = await missingModules(explicit);
    if (missing === undefined) throw unavailable(`MOTO_PYTHON=${explicit} does not run`);
    if (missing.length > 0) throw unavailable(`MOTO_PYTHON=${explicit} lacks ${missing.join(', ')}`);
    return explicit;
  }
  const pyenv = await pyenvPythonWithMoto();
  if (pyenv) return pyenv;
  if (existsSync(venvPython(PROJECT_VENV)) && (await missingModules(venvPython(PROJECT_VENV)))?.length === 0) {
    return venvPython(PROJECT_VENV);
  }
  const missing = await missingModules('python3');
  if (missing === undefined) throw unavailable('no python3 was found', 'Install Python 3.9 or later first.');
  if (missing.length === 0) return 'python3';

  if (!(await packageIndexReachable())) {
    throw unavailable(
      `python3 lacks ${missing.join(', ')}`,
      "Python's package index could not be reached, so it was not set up automatically.",
    );
  }
  log(`Setting up ${MOTO_REQUIREMENT} in ${PROJECT_VENV} (once)…`);
  rmSync(PROJECT_VENV, { recursive: true, force: true });
  const installed =
    (await run('python3', ['-m', 'venv', PROJECT_VENV])) &&
    (await run(venvPython(PROJECT_VENV), ['-m', 'pip', 'install', '--disable-pip-version-check', MOTO_REQUIREMENT])) &&
    (await missingModules(venvPython(PROJECT_VENV)))?.length === 0;
  if (!installed) {
    rmSync(PROJECT_VENV, { recursive: true, force: true });
    throw unavailable(`python3 lacks ${missing.join(', ')}`, 'Setting it up in .local/moto-venv failed (see above).');
  }
  return venvPython(PROJECT_VENV);
}

export async function startMoto(
  options: { port?: number; quiet?: boolean; log?: (line: string) => void } = {},
): Promise<Moto> {
  const python = await motoPython(options.log);
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(python, [join(here, 'moto_launcher.py'), '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', options.quiet === false ? 'inherit' : 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
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
