import { describe, expect, it } from 'vitest';
import { sniffImageType } from '../../lambdas/core/image-sniff';
import { ACCEPTED_CONTENT_TYPES, MAX_UPLOAD_BYTES } from '../../lambdas/core/upload-rules';
import { ACCEPTED_FILES_HINT, checkContent, checkSelfie, FILE_INPUT_ACCEPT, sizeProblem } from '../../web/selfie-rules';
import { readHeic } from '../helpers/heic-images';
import { hostileFixture } from '../helpers/hostile-images';
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

describe('HEIC, as phones store photos', () => {
  it.each([
    ['a HEIC from heif-enc (brands heic, mif1)', 'astronaut.heic', 'image/heic'],
    ['a HEIC laid out as an iPhone writes it (grid, irot, EXIF)', 'astronaut-12mp.heic', 'image/heic'],
  ] as const)('takes %s as %s', (_name, file, contentType) => {
    expect(checkContent(readHeic(file))).toEqual({ ok: true, contentType });
  });

  it('takes a codec-neutral HEIF (mif1 only) as image/heif; the service reads its codec from the header', () => {
    const heif = Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.from('ftypmif1\0\0\0\0mif1', 'latin1')]);
    expect(checkContent(heif)).toEqual({ ok: true, contentType: 'image/heif' });
  });

  it('still refuses AVIF, naming it', async () => {
    expect(checkContent(await hostileFixture('small.avif'))).toMatchObject({
      ok: false,
      problem: expect.stringContaining('AVIF'),
    });
  });

  it('offers HEIC and HEIF in the picker and names them in its label, from the shared list', () => {
    expect(FILE_INPUT_ACCEPT.split(',')).toEqual(expect.arrayContaining(['image/heic', 'image/heif']));
    expect(ACCEPTED_FILES_HINT).toBe('JPEG, PNG, WebP, TIFF, HEIC or HEIF, up to 5 MiB');
  });
});
