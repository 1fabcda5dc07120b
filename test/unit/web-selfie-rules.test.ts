import { afterEach, describe, expect, it, vi } from 'vitest';
import { type SniffResult, sniffImageType } from '../../lambdas/core/image-sniff';
import { ACCEPTED_CONTENT_TYPES, MAX_UPLOAD_BYTES } from '../../lambdas/core/upload-rules';
import { ACCEPTED_FILES_HINT, checkContent, checkSelfie, FILE_INPUT_ACCEPT, sizeProblem } from '../../web/selfie-rules';
import * as images from '../helpers/images';

// The browser sample's checks run in Node here (they are pure); test/browser drives them through the page.

/** A PNG whose first 4 bytes (\x89PNG) are right and whose 8-byte signature is not: the last byte is 0x00, not 0x0A. */
async function pngWithBrokenSignature(): Promise<Buffer> {
  const bytes = Buffer.from(await images.png());
  bytes[7] = 0x00;
  return bytes;
}

describe('the browser sample checks a selfie by the service rules', () => {
  it.each([
    ['JPEG', 'image/jpeg', images.baselineJpeg],
    ['PNG', 'image/png', images.png],
    ['WebP', 'image/webp', images.webp],
    ['TIFF', 'image/tiff', images.tiff],
  ] as const)('takes a %s as %s, the content type the presigned POST will pin', async (_name, contentType, make) => {
    expect(checkContent(await make())).toEqual({ ok: true, contentType });
  });

  it('refuses a PNG with a valid 4-byte prefix but a broken 8-byte signature, as the processor does', async () => {
    const bytes = await pngWithBrokenSignature();

    expect(sniffImageType(bytes).supported).toBe(false);
    expect(checkContent(bytes)).toEqual({
      ok: false,
      problem: expect.stringMatching(
        /^That file is not a JPEG, PNG, .* image \(its content looks like unrecognised data\)/,
      ),
    });
  });

  it('names what a refused file looks like (a GIF)', async () => {
    expect(checkContent(await images.gif())).toMatchObject({ ok: false, problem: expect.stringContaining('GIF') });
  });

  it('refuses an empty photo and one over the limit by size alone, and takes exactly the limit', () => {
    expect(sizeProblem(0)).toMatch(/empty/);
    expect(sizeProblem(MAX_UPLOAD_BYTES + 1)).toMatch(/the limit is 5\.00 MiB/);
    expect(sizeProblem(MAX_UPLOAD_BYTES)).toBeUndefined();
  });

  it('checks the size before it reads the bytes', async () => {
    const oversize = new Blob([new Uint8Array(MAX_UPLOAD_BYTES + 1)]);
    oversize.arrayBuffer = () => Promise.reject(new Error('read an oversize photo'));

    expect(await checkSelfie(oversize)).toMatchObject({ ok: false, problem: expect.stringMatching(/limit/) });
  });

  it('offers and names in the picker exactly the content types the API accepts', () => {
    expect(FILE_INPUT_ACCEPT.split(',')).toEqual([...ACCEPTED_CONTENT_TYPES]);
    expect(ACCEPTED_FILES_HINT).toMatch(/^JPEG, PNG, (\w+, )*\w+ or \w+, up to 5 MiB$/);
  });
});

describe('a format the service starts to accept (HEIC, the next one)', () => {
  /** An ISO base media `ftyp` box with major brand heic, as an iPhone writes it. */
  const heic = Buffer.concat([
    Buffer.from([0, 0, 0, 24]),
    Buffer.from('ftypheic', 'latin1'),
    Buffer.from([0, 0, 0, 0]),
    Buffer.from('mif1heic', 'latin1'),
  ]);

  afterEach(() => {
    vi.doUnmock('../../lambdas/core/upload-rules');
    vi.doUnmock('../../lambdas/core/image-sniff');
    vi.resetModules();
  });

  it('is accepted by the page once the shared list and the sniffer take it, with no change to web/', async () => {
    // Prepare: the two shared rules as the next issue will leave them.
    vi.resetModules();
    vi.doMock('../../lambdas/core/upload-rules', async (importOriginal) => {
      const real = await importOriginal<typeof import('../../lambdas/core/upload-rules')>();
      return {
        ...real,
        ACCEPTED_CONTENT_TYPES: [...new Set([...real.ACCEPTED_CONTENT_TYPES, 'image/heic', 'image/heif'])],
      };
    });
    vi.doMock('../../lambdas/core/image-sniff', async (importOriginal) => {
      const real = await importOriginal<typeof import('../../lambdas/core/image-sniff')>();
      const sniff = (bytes: Uint8Array): SniffResult => {
        const found = real.sniffImageType(bytes);
        return found.type === 'heic' || found.type === 'heif'
          ? ({ supported: true, type: found.type } as never)
          : found;
      };
      return { ...real, sniffImageType: sniff };
    });
    expect(checkContent(heic)).toMatchObject({ ok: false, problem: expect.stringContaining('HEIC') });

    // Act
    const rules = await import('../../web/selfie-rules');

    // Assess
    expect(rules.FILE_INPUT_ACCEPT.split(',')).toEqual(expect.arrayContaining(['image/heic', 'image/heif']));
    expect(rules.ACCEPTED_FILES_HINT).toMatch(/^JPEG, PNG, WebP, TIFF, HEIC or HEIF, up to 5 MiB$/);
    expect(rules.checkContent(heic)).toEqual({ ok: true, contentType: 'image/heic' });
  });
});
