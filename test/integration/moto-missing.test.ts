import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/free-port';
import { PROJECT_VENV } from '../../local/moto';
import { REPO_ROOT } from '../helpers/packed-app';

// `npm start` on a machine with Python but no moto: one short message naming the command to run, exit 1, and no
// Python or Node stack trace. The Python is a real one without moto (a fresh venv), and the package index it would
// install from is a closed port on 127.0.0.1, so nothing leaves the machine.

const SETUP_COMMAND =
  'python3 -m venv .local/moto-venv && .local/moto-venv/bin/python -m pip install "moto[server]==5.2.1"';

let work: string;
let venv: string;

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'liveness-nomoto-'));
  venv = path.join(work, 'venv');
  execFileSync('python3', ['-m', 'venv', '--without-pip', venv]);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

interface Start {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function npmStart(env: NodeJS.ProcessEnv): Promise<Start> {
  return new Promise((resolve) => {
    execFile(
      'npm',
      ['start', '--silent'],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? null : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function expectOneClearMessage(start: Start, problem: RegExp): void {
  expect(start.code, start.stderr).toBe(1);
  expect(start.stdout).not.toContain('Liveness service running');
  expect(start.stderr).toMatch(problem);
  expect(start.stderr).toContain(SETUP_COMMAND);
  expect(start.stderr).not.toMatch(/Traceback|ModuleNotFoundError|\n\s+at \S+ \(|node:internal/);
  expect(start.stderr.trim().split('\n').length).toBeLessThanOrEqual(4);
}

describe('npm start without moto', () => {
  it('MOTO_PYTHON names a Python without moto: says what it lacks and the command to run', async () => {
    const start = await npmStart({ MOTO_PYTHON: path.join(venv, 'bin', 'python') });

    expectOneClearMessage(
      start,
      /^moto_server is not available: MOTO_PYTHON=.* lacks moto, jsonpath_ng, flask, flask_cors\./,
    );
  });

  it('MOTO_PYTHON names no program at all', async () => {
    const start = await npmStart({ MOTO_PYTHON: path.join(work, 'no-such-python') });

    expectOneClearMessage(start, /MOTO_PYTHON=.*no-such-python does not run/);
  });

  it('python3 without moto and no package index: no set-up attempted, the same one message', async () => {
    const closedPort = await freePort();
    const start = await npmStart({
      MOTO_PYTHON: '',
      // The venv's own bin first: its python3 is a Python without moto (a symlink elsewhere would be the base one).
      PATH: `${path.join(venv, 'bin')}${path.delimiter}${process.env.PATH}`,
      PYENV_ROOT: path.join(work, 'no-pyenv'),
      PIP_INDEX_URL: `http://127.0.0.1:${closedPort}/simple/`,
    });

    expectOneClearMessage(start, /python3 lacks moto, .*\nPython's package index could not be reached/);
    expect(existsSync(PROJECT_VENV)).toBe(false);
  });

  it('a pyenv version with moto_server but not its server extras is passed over, not started into a stack trace', async () => {
    // What `pip install moto` (no [server]) leaves: the moto_server script, but no flask or jsonpath_ng.
    const pyenvRoot = path.join(work, 'pyenv');
    const bin = path.join(pyenvRoot, 'versions', '3.99.0', 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'moto_server'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    // A wrapper, not a symlink: a symlinked python outside its venv would run as the base Python (which has moto here).
    writeFileSync(
      path.join(bin, 'python3'),
      `#!/bin/sh\nexec ${JSON.stringify(path.join(venv, 'bin', 'python'))} "$@"\n`,
      {
        mode: 0o755,
      },
    );
    const closedPort = await freePort();

    const start = await npmStart({
      MOTO_PYTHON: '',
      PATH: `${path.join(venv, 'bin')}${path.delimiter}${process.env.PATH}`,
      PYENV_ROOT: pyenvRoot,
      PIP_INDEX_URL: `http://127.0.0.1:${closedPort}/simple/`,
    });

    expectOneClearMessage(start, /python3 lacks moto, .*\nPython's package index could not be reached/);
  });

  it('the package index answers but has no moto: the set-up is tried once, undone, and ends in the same message', async () => {
    // A package index on loopback that knows no distribution of moto: pip's install fails the way it would offline
    // behind a proxy that answers. The half-made .local/moto-venv must not stay behind to be found next time.
    const requests: string[] = [];
    const index: Server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><body></body></html>');
    });
    await new Promise<void>((resolve) => index.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = index.address() as AddressInfo;
      const start = await npmStart({
        MOTO_PYTHON: '',
        PATH: `${path.join(venv, 'bin')}${path.delimiter}${process.env.PATH}`,
        PYENV_ROOT: path.join(work, 'no-pyenv'),
        PIP_INDEX_URL: `http://127.0.0.1:${port}/simple/`,
      });

      expect(start.code, start.stderr).toBe(1);
      expect(start.stderr).toContain('Setting up moto[server]==5.2.1 in');
      // pip asked the index for moto: the set-up really ran, against loopback only.
      expect(requests.some((r) => r.startsWith('GET /simple/moto/'))).toBe(true);
      // pip's own complaint comes first ("see above"); the last lines are the one message, and no stack trace.
      const message = start.stderr.slice(start.stderr.indexOf('moto_server is not available'));
      expect(message).toMatch(
        /^moto_server is not available: python3 lacks moto, .*\nSetting it up in \.local\/moto-venv failed/,
      );
      expect(message).toContain(SETUP_COMMAND);
      expect(start.stderr).not.toMatch(/Traceback|\n\s+at \S+ \(|node:internal/);
      expect(existsSync(PROJECT_VENV)).toBe(false);
    } finally {
      await new Promise<void>((resolve) => index.close(() => resolve()));
    }
  }, 120_000);
});

describe('npm start on a busy port', () => {
  it('says the port is in use and how to pick another, with no stack trace', async () => {
    const busy: Server = createServer((_req, res) => res.end());
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = busy.address() as AddressInfo;
      const start = await npmStart({ PORT: String(port) });
      expect(start.code, start.stderr).toBe(1);
      expect(start.stdout).not.toContain('Liveness service running');
      expect(start.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);
      expect(start.stderr).toContain(`PORT=${port + 1} npm start`);
      expect(start.stderr).not.toMatch(/EADDRINUSE|\n\s+at \S+ \(|node:internal/);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  }, 90_000);

  it('refuses a PORT that is not a port number, naming it', async () => {
    const start = await npmStart({ PORT: 'eighty' });
    expect(start.code, start.stderr).toBe(1);
    expect(start.stderr.trim()).toBe('PORT=eighty is not a port number (0-65535).');
  });
});
