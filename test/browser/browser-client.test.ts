import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Page,
  type Response as PlaywrightResponse,
} from 'playwright-core';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACCEPTED_CONTENT_TYPES, MAX_UPLOAD_BYTES } from '../../lambdas/core/upload-rules';
import type { LocalStack } from '../../local/local-stack';
import { ApiClient } from '../helpers/api-client';
import { readHeic } from '../helpers/heic-images';
import { startTestStack } from '../helpers/test-stack';

// The sample page in a real headless Chromium against the whole local stack: the page's own fetch and XHR calls,
// and the cross-origin multipart POST from the page's origin to moto's S3, exactly as a browser app makes them.

/** Debian's Chromium; scripts/ensure-chromium.sh installs it. Never a browser downloaded by playwright. */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = fileURLToPath(new URL('../../test-output/browser-client.png', import.meta.url));

let stack: LocalStack;
let browser: Browser;
let context: BrowserContext | undefined;
let selfieJpeg: Buffer;
let selfiePng: Buffer;

beforeAll(async () => {
  // A missing browser must fail the run, not skip it: a skipped browser suite looks green in CI.
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: run scripts/ensure-chromium.sh (as root) first`);
  }
  [stack, browser] = await Promise.all([
    startTestStack('browser'),
    chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // A synthetic camera that needs no permission prompt, so the getUserMedia path runs too.
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
      ],
    }),
  ]);
  selfieJpeg = await sharp(readFileSync(new URL('../fixtures/astronaut.png', import.meta.url)))
    .jpeg({ quality: 90 })
    .toBuffer();
  selfiePng = await sharp(selfieJpeg).png().toBuffer();
});

afterEach(async () => {
  await context?.close();
  context = undefined;
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A fresh page at the stack's origin, recording what a person would never see: script errors and the requests. */
async function openClient(): Promise<{ page: Page; pageErrors: string[]; requests: string[] }> {
  context = await browser.newContext({ viewport: { width: 900, height: 1000 } });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  page.on('request', (request) => requests.push(`${request.method()} ${request.url()}`));
  await page.goto(`${stack.apiUrl}/`);
  return { page, pageErrors, requests };
}

describe('the browser sample client', () => {
  it('is served at / without an API key, prefilled with this origin and the local key', async () => {
    const { page, pageErrors } = await openClient();
    expect(await page.title()).toContain('Liveness check');
    expect(await page.inputValue('#api-url')).toBe(stack.apiUrl);
    expect(await page.inputValue('#api-key')).toBe('local-dev-key');
    expect(pageErrors).toEqual([]);
  });

  it('uploads a chosen photo straight to S3 (cross-origin, with progress) and shows Approved', async () => {
    const { page, pageErrors } = await openClient();
    const uploads: PlaywrightResponse[] = [];
    page.on('response', (res) => {
      if (res.url().startsWith(stack.motoEndpoint) && res.request().method() === 'POST') uploads.push(res);
    });

    await page.setInputFiles('#file-input', { name: 'selfie.jpg', mimeType: 'image/jpeg', buffer: selfieJpeg });
    await page.click('#verify');
    // Whichever comes first, so a refused upload fails here with the page's own message instead of a timeout.
    await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 20_000 });
    expect(await page.isHidden('#error'), (await page.textContent('#error')) ?? '').toBe(true);

    // The upload went from the page's origin to a different one (moto's port): CORS had to allow it.
    expect(uploads).toHaveLength(1);
    expect(uploads[0]?.status()).toBe(204);
    expect(uploads[0]?.headers()['access-control-allow-origin']).toMatch(new RegExp(`^(\\*|${stack.apiUrl})$`));

    expect(await page.getAttribute('#result', 'data-outcome')).toBe('Approved');
    expect(await page.textContent('#decision')).toBe('Approved');
    const checkId = (await page.textContent('#result-check-id')) ?? '';
    const check = (await new ApiClient(stack.apiUrl, stack.apiKey).getCheck(checkId)).body;
    expect(check).toMatchObject({ status: 'COMPLETED', result: { decision: 'Approved' } });
    expect(await page.textContent('#result-score')).toBe(String(check.result.liveness.score));
    expect(await page.textContent('#result-warnings')).toBe('none');
    expect(await page.getAttribute('#upload-progress', 'value')).toBe('100');
    expect(await page.textContent('#status-log')).toContain('Status: COMPLETED');
    expect(await page.isHidden('#error')).toBe(true);
    expect(pageErrors).toEqual([]);

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // The person can erase the check from the same page: DELETE, then the API no longer knows it.
    await page.click('#delete-check');
    await page.waitForSelector('#delete-status:has-text("Deleted")');
    expect(await page.isDisabled('#delete-check')).toBe(true);
    expect((await new ApiClient(stack.apiUrl, stack.apiKey).getCheck(checkId)).status).toBe(404);
    expect(pageErrors).toEqual([]);
  });

  it('lists the checks for the typed vendor data, newest first, and not those of another user', async () => {
    const api = new ApiClient(stack.apiUrl, stack.apiKey);
    const user = `browser-list-${Date.now()}`;
    const older = (await api.createCheck({ vendor_data: user })).id;
    const newer = (await api.createCheck({ vendor_data: user })).id;
    await api.createCheck({ vendor_data: `${user}-someone-else` });
    const { page, pageErrors } = await openClient();

    await page.click('details > summary'); // the options are folded away until opened
    await page.fill('#vendor-data', user);
    await page.click('#list-checks');
    await page.waitForSelector('#check-list-panel:not([hidden]), #error:not([hidden])', { timeout: 10_000 });
    expect(await page.isHidden('#error'), (await page.textContent('#error')) ?? '').toBe(true);

    expect(await page.textContent('#check-list-vendor')).toBe(user);
    const rows = await page.locator('#check-list li').allTextContents();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain(newer);
    expect(rows[1]).toContain(older);
    expect(rows.every((row) => row.includes('AWAITING_UPLOAD'))).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('refuses a photo over 5 MiB with a clear message, before creating a check or uploading', async () => {
    const { page, requests } = await openClient();
    const oversize = Buffer.concat([selfieJpeg, Buffer.alloc(MAX_UPLOAD_BYTES + 1 - selfieJpeg.length)]);

    await page.setInputFiles('#file-input', { name: 'huge.jpg', mimeType: 'image/jpeg', buffer: oversize });
    // Said as soon as the photo is picked, and again if the person presses the button anyway.
    expect(await page.textContent('#error')).toMatch(/The photo is 5\.00 MiB; the limit is 5\.00 MiB/);
    await page.click('#verify');
    expect(await page.isVisible('#error')).toBe(true);
    expect(await page.textContent('#error')).toMatch(/Choose a smaller photo/);
    expect(await page.isHidden('#result')).toBe(true);

    const apiOrS3 = requests.filter((r) => r.includes('/v1/liveness-checks') || r.includes(stack.motoEndpoint));
    expect(apiOrS3).toEqual([]);
  });

  it('refuses a PNG whose 4-byte prefix is right but 8-byte signature is not, as the server does, before any request', async () => {
    const { page, requests, pageErrors } = await openClient();
    // \x89PNG\r\n\x1a then 0x00 instead of \n: the old page read 4 bytes and sent this; the processor refuses it.
    const badSignature = Buffer.from(selfiePng);
    badSignature[7] = 0x00;

    await page.setInputFiles('#file-input', { name: 'selfie.png', mimeType: 'image/png', buffer: badSignature });
    await expect.poll(() => page.textContent('#error')).toMatch(/not a JPEG, PNG, .*image.*unrecognised data/);
    await page.click('#verify');
    await expect.poll(() => page.textContent('#error')).toMatch(/Convert it to one of those first/);
    expect(await page.isHidden('#result')).toBe(true);

    expect(requests.filter((r) => r.includes('/v1/liveness-checks') || r.includes(stack.motoEndpoint))).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('refuses a file of a type the server refuses (a GIF named .jpg) with a message, before any request', async () => {
    const { page, requests } = await openClient();
    const gif = await sharp(selfieJpeg).resize(64, 64).gif().toBuffer();

    await page.setInputFiles('#file-input', { name: 'selfie.jpg', mimeType: 'image/jpeg', buffer: gif });
    await expect.poll(() => page.textContent('#error')).toMatch(/its content looks like GIF/);
    await page.click('#verify');
    await expect.poll(() => page.textContent('#error')).toMatch(/its content looks like GIF/);

    expect(requests.filter((r) => r.includes('/v1/liveness-checks') || r.includes(stack.motoEndpoint))).toEqual([]);
  });

  it('takes a valid PNG after a refused file, and clears the message', async () => {
    const { page } = await openClient();
    await page.setInputFiles('#file-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hi\n') });
    await expect.poll(() => page.isVisible('#error')).toBe(true);

    await page.setInputFiles('#file-input', { name: 'selfie.png', mimeType: 'image/png', buffer: selfiePng });

    await expect.poll(() => page.isHidden('#error')).toBe(true);
  });

  it('sends a phone HEIC as it is (image/heic) and shows Approved; no broken preview where the browser cannot show HEIC', async () => {
    const { page, pageErrors } = await openClient();
    await page.setInputFiles('#file-input', {
      name: 'IMG_0001.HEIC',
      mimeType: 'image/heic',
      buffer: readHeic('astronaut-12mp.heic'),
    });
    // Chromium has no HEIC decoder: the preview's error hides it.
    await expect.poll(() => page.isHidden('#selfie-preview')).toBe(true);
    await page.click('#verify');
    await page.waitForSelector('#result:not([hidden]), #error:not([hidden])', { timeout: 30_000 });

    expect(await page.isHidden('#error'), (await page.textContent('#error')) ?? '').toBe(true);
    expect(await page.getAttribute('#result', 'data-outcome')).toBe('Approved');
    const checkId = (await page.textContent('#result-check-id')) ?? '';
    const check = (await new ApiClient(stack.apiUrl, stack.apiKey).getCheck(checkId)).body;
    expect(check).toMatchObject({ status: 'COMPLETED', result: { decision: 'Approved' } });
    expect(pageErrors).toEqual([]);
  });

  it('offers in the file picker the content types the API accepts, from the shared list', async () => {
    const { page } = await openClient();
    expect(await page.getAttribute('#file-input', 'accept')).toBe(ACCEPTED_CONTENT_TYPES.join(','));
    expect(await page.textContent('#file-rules')).toBe('JPEG, PNG, WebP, TIFF, HEIC or HEIF, up to 5 MiB');
  });

  it('takes a photo with the camera and gets a decision for it', async () => {
    const { page, pageErrors } = await openClient();
    const before = stack.diditSimulator?.successfulCalls ?? 0;

    await page.click('#camera-start');
    // Frames are flowing once the video knows its size; capturing earlier would draw an empty canvas.
    await expect
      .poll(() => page.$eval('#camera-preview', (video) => (video as { videoWidth: number }).videoWidth))
      .toBeGreaterThan(0);
    await page.click('#camera-capture');
    await page.waitForSelector('#selfie-preview:not([hidden])');
    await page.click('#verify');

    await page.waitForSelector('#result:not([hidden])', { timeout: 20_000 });
    expect(['Approved', 'Declined']).toContain(await page.getAttribute('#result', 'data-outcome'));
    expect((stack.diditSimulator?.successfulCalls ?? 0) - before).toBe(1);
    expect(pageErrors).toEqual([]);
  });
});

describe('the served /app.js', () => {
  it('is web/app.ts bundled for the browser: one ES module, no Node built-ins, the core rules inlined', async () => {
    const res = await fetch(`${stack.apiUrl}/app.js`);
    const bundle = await res.text();

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    // Everything is inlined: a browser cannot resolve a bare or node: specifier, nor run require().
    expect(bundle).not.toMatch(/\brequire\(/);
    expect(bundle).not.toMatch(/["']node:/);
    expect(bundle).not.toMatch(/^\s*(import|export)\b/m);
    // Built from the TypeScript sources, with the server's sniffer (its 8-byte PNG signature) and not a copy of it.
    const sources = sourceMapSources(bundle);
    expect(sources).toEqual(expect.arrayContaining(['web/app.ts', 'lambdas/core/image-sniff.ts']));
    // Only the sample and the service's own pure modules: no package (zod, an SDK) came along with a type import.
    expect(sources.filter((s) => !/^(web|lambdas)\//.test(s))).toEqual([]);
    expect(bundle).toContain('PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10]');
    expect(existsSync(fileURLToPath(new URL('../../web/app.js', import.meta.url)))).toBe(false);
  });
});

/** The `sources` of the bundle's inline source map: the files esbuild put into it. */
function sourceMapSources(bundle: string): string[] {
  const inline = /\/\/# sourceMappingURL=data:application\/json;base64,(\S+)\s*$/.exec(bundle)?.[1];
  if (!inline) throw new Error('the bundle has no inline source map');
  return (JSON.parse(Buffer.from(inline, 'base64').toString('utf8')) as { sources: string[] }).sources;
}
