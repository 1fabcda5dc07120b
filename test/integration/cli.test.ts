import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, resolveApiTarget } from '../../cli/api-target';
import { waitForTerminalCheck } from '../../cli/check-waiter';
import { CliError } from '../../cli/cli-error';
import { EXIT_CODES } from '../../cli/exit-codes';
import { type JsonReport, outcomeOf } from '../../cli/verdict';
import type { CheckView } from '../../lambdas/core/check-view';
import { freePort } from '../../local/free-port';
import type { LocalStack } from '../../local/local-stack';
import { ApiClient } from '../helpers/api-client';
import { heicFixture } from '../helpers/heic-images';
import { startTestStack } from '../helpers/test-stack';

// The real `liveness` command in a child process, against the whole local stack started here: what a person or a CI
// job sees is the exit code, stdout and stderr, so that is what these tests assert.

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(REPO, 'cli/liveness.mjs');
const ASTRONAUT_PNG = join(REPO, 'test/fixtures/astronaut.png');

let stack: LocalStack;
let dir: string;
const files = { selfie: '', truncated: '', oversize: '', html: '', outputs: '' };

beforeAll(async () => {
  stack = await startTestStack('cli');
  dir = mkdtempSync(join(tmpdir(), 'liveness-cli-'));
  const jpeg = await sharp(readFileSync(ASTRONAUT_PNG)).jpeg({ quality: 90 }).toBuffer();
  const write = (name: string, bytes: Uint8Array | string) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  files.selfie = write('selfie.jpg', jpeg);
  // Starts like a JPEG, so it passes the CLI's sniffing; only the decoder in the processor finds it cut short.
  files.truncated = write('truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
  files.oversize = write('oversize.jpg', Buffer.concat([jpeg, Buffer.alloc(5 * 1024 * 1024)]));
  files.html = write('selfie.jpg.html', '<!doctype html><html><body>not a photo</body></html>');
  // What `cdk deploy --outputs-file` writes; a deployed ApiUrl ends with the stage and a slash.
  files.outputs = write(
    'cdk-outputs.json',
    JSON.stringify({ DiditLiveness: { ApiUrl: `${stack.apiUrl}/`, ApiKeyId: 'abc123', EventBusName: 'bus' } }),
  );
});

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI with a clean environment: only the variables a test passes reach it, so a developer's own don't. */
function runCli(args: readonly string[], env: Record<string, string> = {}, command = [CLI]): Promise<CliRun> {
  const { LIVENESS_API_URL: _url, LIVENESS_API_KEY: _key, ...inherited } = process.env;
  const [file, ...prefix] = command[0] === CLI ? [process.execPath, CLI] : command;
  return new Promise((resolve) => {
    execFile(
      file ?? process.execPath,
      [...prefix, ...args],
      { cwd: REPO, env: { ...inherited, ...env }, timeout: 25_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const local = () => ({ LIVENESS_API_URL: stack.apiUrl });

describe('liveness verify against the local stack', () => {
  it('Approved: exit 0, the verdict on stdout, upload bytes and status changes on stderr', async () => {
    const run = await runCli(['verify', files.selfie], local());

    expect(run.code, run.stderr).toBe(EXIT_CODES.Approved);
    expect(run.stdout).toMatch(/^Decision\s+Approved$/m);
    expect(run.stdout).toMatch(/^Score\s+\d+$/m);
    expect(run.stdout).toMatch(/^Warnings\s+none$/m);
    expect(run.stdout).toMatch(/^Face quality\s+[\d.]+ \(luminance [\d.]+\)$/m);
    // The defaults: the URL from the environment, the local key because the API is on loopback.
    expect(run.stderr).toContain(`(from LIVENESS_API_URL)`);
    expect(run.stderr).toMatch(/^Selfie\s+.*JPEG, [\d.]+ KiB$/m);
    expect(run.stderr).toMatch(/^Upload\s+0 B \/ [\d.]+ KiB \(0%\)$/m);
    expect(run.stderr).toMatch(/^Upload\s+([\d.]+ KiB) \/ \1 \(100%\)$/m);
    expect(run.stderr).toMatch(/^Status\s+COMPLETED/m);
    const id = /^Check\s+(\S+)$/m.exec(run.stdout)?.[1] ?? '';
    const check = (await new ApiClient(stack.apiUrl, stack.apiKey).getCheck(id)).body;
    expect(check).toMatchObject({ status: 'COMPLETED', result: { decision: 'Approved' } });
    expect(run.stdout).toMatch(new RegExp(`^Score\\s+${check.result.liveness.score}$`, 'm'));
  });

  it('Declined: exit 2, with the URL from --stack-outputs and the key from LIVENESS_API_KEY', async () => {
    const run = await runCli(
      ['verify', files.selfie, '--stack-outputs', files.outputs, '--vendor-data', 'sim:declined'],
      {
        LIVENESS_API_KEY: stack.apiKey,
      },
    );

    expect(run.code, run.stderr).toBe(EXIT_CODES.Declined);
    expect(run.stdout).toMatch(/^Decision\s+Declined$/m);
    expect(run.stdout).toMatch(/^Score\s+5$/m);
    expect(run.stdout).toMatch(/^Warnings\s+LOW_LIVENESS_SCORE/m);
    expect(run.stderr).toContain(`${files.outputs} (stack DiditLiveness)`);
  });

  it('FAILED: a truncated JPEG passes the sniffing, fails in the processor: exit 3 with the error code', async () => {
    const run = await runCli(['verify', files.truncated, '--api', stack.apiUrl, '--key', stack.apiKey]);

    expect(run.code, run.stderr).toBe(EXIT_CODES.FAILED);
    expect(run.stdout).toMatch(/^Status\s+FAILED$/m);
    expect(run.stdout).toMatch(/^Error\s+CORRUPT_IMAGE: /m);
    expect(run.stdout).toMatch(/^Retry\s+will not help$/m);
    expect(run.stderr).toMatch(/^Status\s+FAILED/m);
  });

  it('a wrong key: exit 5 and a message naming the key, with --json an error document', async () => {
    const run = await runCli(['verify', files.selfie, '--key', 'not-the-key', '--json'], local());

    expect(run.code).toBe(EXIT_CODES.AUTH_FAILED);
    expect(run.stderr).toContain('the API refused the key (401 UNAUTHORIZED)');
    expect(run.stderr).toContain('Check --key or LIVENESS_API_KEY');
    expect(JSON.parse(run.stdout)).toMatchObject({
      outcome: 'AUTH_FAILED',
      exit_code: EXIT_CODES.AUTH_FAILED,
      check: null,
      error: { code: 'UNAUTHORIZED' },
    });
  });

  it('an unreachable API: exit 6, saying connection refused and where the URL came from', async () => {
    const closedPort = await freePort();
    const run = await runCli(['verify', files.selfie, '--api', `http://127.0.0.1:${closedPort}`]);

    expect(run.code).toBe(EXIT_CODES.API_UNREACHABLE);
    expect(run.stderr).toContain(`cannot reach the API at http://127.0.0.1:${closedPort}/`);
    expect(run.stderr).toContain('connection refused, nothing is listening there (ECONNREFUSED)');
    expect(run.stderr).toContain('(from --api)');
    expect(run.stdout).toBe('');
  });

  it('a file over 5 MiB: exit 7 before any request (the API here is unreachable, yet the file is the answer)', async () => {
    const run = await runCli(['verify', files.oversize, '--api', `http://127.0.0.1:${await freePort()}`]);

    expect(run.code).toBe(EXIT_CODES.BAD_INPUT_FILE);
    expect(run.stderr).toMatch(/oversize\.jpg is 5\.\d\d MiB; the upload limit is 5\.00 MiB/);
    expect(run.stdout).toBe('');
  });

  it('not an image (whatever its name): exit 7, naming what the content looks like', async () => {
    const run = await runCli(['verify', files.html, '--api', `http://127.0.0.1:${await freePort()}`]);

    expect(run.code).toBe(EXIT_CODES.BAD_INPUT_FILE);
    expect(run.stderr).toContain('is not a JPEG, PNG, WebP, TIFF or HEIC image (its content looks like HTML)');
  });

  it('a missing file and bad flags: exit 7 and exit 1', async () => {
    const missing = await runCli(['verify', join(dir, 'nope.jpg')], local());
    expect(missing.code).toBe(EXIT_CODES.BAD_INPUT_FILE);
    expect(missing.stderr).toContain('nope.jpg: no such file');

    for (const args of [['verify'], ['verify', files.selfie, '--threshold', '101'], ['selfie.jpg'], ['verify', '-x']]) {
      const run = await runCli(args, local());
      expect(run.code, args.join(' ')).toBe(EXIT_CODES.USAGE_ERROR);
      expect(run.stderr).toContain('Run `liveness --help` for the options.');
    }
  });

  it('--json: one document on stdout with the outcome, the sniffed content type and the check as the API has it', async () => {
    const run = await runCli(
      ['verify', ASTRONAUT_PNG, '--json', '--threshold', '40', '--vendor-data', 'user-7'],
      local(),
    );

    const report = JSON.parse(run.stdout) as JsonReport;
    expect(run.code, run.stderr).toBe(report.exit_code);
    expect(Object.keys(report).sort()).toEqual(
      ['check', 'decision', 'error', 'exit_code', 'file', 'outcome', 'score', 'warnings'].sort(),
    );
    expect(['Approved', 'Declined']).toContain(report.outcome);
    expect(report.decision).toBe(report.outcome);
    // Picked from the PNG's magic bytes, so the presigned POST's pinned Content-Type matches what is sent.
    expect(report.file).toEqual({
      path: ASTRONAUT_PNG,
      bytes: readFileSync(ASTRONAUT_PNG).length,
      content_type: 'image/png',
    });
    expect(report.error).toBeNull();
    expect(report.score).toBe(report.check?.result?.liveness.score);
    expect(report.decision === 'Approved').toBe((report.score ?? 0) > 40);
    expect(report.warnings).toEqual(report.check?.result?.liveness.warnings.map((w) => w.risk));
    const stored = (await new ApiClient(stack.apiUrl, stack.apiKey).getCheck(report.check?.id ?? '')).body;
    expect(report.check).toEqual(stored);
    expect(stored.vendor_data).toBe('user-7');
    // Progress stays on stderr, so stdout parses as JSON with nothing around it.
    expect(run.stderr).toMatch(/^Status\s+COMPLETED/m);
  });

  it('sends a phone HEIC as it is, as image/heic, and gets the decision', async () => {
    const heic = heicFixture('astronaut-12mp.heic');
    const run = await runCli(['verify', heic, '--json'], local());

    const report = JSON.parse(run.stdout) as JsonReport;
    expect(run.code, run.stderr).toBe(EXIT_CODES.Approved);
    expect(report).toMatchObject({
      outcome: 'Approved',
      file: { path: heic, bytes: readFileSync(heic).length, content_type: 'image/heic' },
    });
  });

  it('runs as `npx liveness` from the repository (package.json bin)', async () => {
    const run = await runCli(['--help'], {}, ['npx', '--no-install', 'liveness']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Usage: liveness verify <selfie> [options]');
  });
});

describe('liveness delete against the local stack', () => {
  it('erases a check: exit 0, then GET answers 404; again exit 0; an unknown id exit 8; a bad id exit 1', async () => {
    const api = new ApiClient(stack.apiUrl, stack.apiKey);
    const created = await api.createCheck({ vendor_data: 'user-cli-delete' });

    const run = await runCli(['delete', created.id], local());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Deleted ${created.id}`);
    expect((await api.getCheck(created.id)).status).toBe(404);

    const again = await runCli(['delete', created.id, '--json'], local());
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ outcome: 'DELETED', id: created.id });

    const unknown = await runCli(['delete', '3f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21', '--json'], local());
    expect(unknown.code).toBe(EXIT_CODES.API_ERROR);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ outcome: 'API_ERROR', error: { code: 'NOT_FOUND' } });

    const bad = await runCli(['delete', 'not-an-id'], local());
    expect(bad.code).toBe(EXIT_CODES.USAGE_ERROR);
    expect(bad.stderr).toContain('is not a check id');
  });
});

describe('how long the CLI waits', () => {
  const pending = { id: 'c1', status: 'PROCESSING', created_at: '', updated_at: '', vendor_data: null, metadata: null };

  it('stops at --timeout with the last state seen: outcome TIMEOUT, exit 4', async () => {
    const statuses: string[] = [];
    const waited = await waitForTerminalCheck(async () => ({ ...pending }) as CheckView, 'c1', {
      timeoutMs: 300,
      onStatus: (check) => statuses.push(check.status),
    });
    expect(waited).toMatchObject({ timedOut: true, check: { status: 'PROCESSING' } });
    expect(statuses).toEqual(['PROCESSING']);
    const outcome = outcomeOf(waited.check, waited.timedOut);
    expect(outcome).toBe('TIMEOUT');
    expect(EXIT_CODES[outcome]).toBe(4);
  });

  it('an EXPIRED check is exit 4 too', () => {
    expect(EXIT_CODES[outcomeOf({ ...pending, status: 'EXPIRED' } as CheckView, false)]).toBe(4);
  });
});

describe('where the CLI sends requests', () => {
  it('keeps a deployed stage path when joining API paths', async () => {
    const target = await resolveApiTarget({
      api: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
      key: 'k',
      stackOutputs: undefined,
      env: {},
    });
    expect(apiUrl(target, 'v1/liveness-checks')).toBe(
      'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1/liveness-checks',
    );
  });

  it('assumes the local key only for a loopback API; a deployed one without a key is a usage error', async () => {
    const localTarget = await resolveApiTarget({ api: undefined, key: undefined, stackOutputs: undefined, env: {} });
    expect(localTarget).toMatchObject({ baseUrl: 'http://127.0.0.1:3000/', apiKey: 'local-dev-key' });

    // A deployed stack's outputs name the key's id, not its value: the error says how to read the value.
    const outputs = join(dir, 'deployed-outputs.json');
    writeFileSync(
      outputs,
      JSON.stringify({ DiditLiveness: { ApiUrl: 'https://x.example.com/prod/', ApiKeyId: 'k1d' } }),
    );
    const remote = resolveApiTarget({ api: undefined, key: undefined, stackOutputs: outputs, env: {} });
    await expect(remote).rejects.toBeInstanceOf(CliError);
    await expect(remote).rejects.toMatchObject({
      outcome: 'USAGE_ERROR',
      message: 'no API key for https://x.example.com/prod/: pass --key or set LIVENESS_API_KEY',
      hint: expect.stringContaining('aws apigateway get-api-key --api-key k1d --include-value'),
    });
  });
});
