import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
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

/** The real interpreter behind the pyenv shim: the shim adds seconds to every start. */
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

export async function startMoto(options: { port?: number; quiet?: boolean } = {}): Promise<Moto> {
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(
    pythonWithMoto(),
    [join(here, 'moto_launcher.py'), '-H', '127.0.0.1', '-p', String(port)],
    {
      stdio: ['ignore', 'ignore', options.quiet === false ? 'inherit' : 'pipe'],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    },
  );
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
