import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { ImageConfig } from '../../lambdas/core/image-pipeline';
import { FIRST_QUALITY, type PreparedImage, prepareImageForDidit } from '../../lambdas/core/image-pipeline';
import { MAX_UPLOAD_BYTES } from '../../lambdas/core/upload-rules';
import { type FailureCode, ImageRejectedError } from '../../lambdas/errors';
import * as images from '../helpers/images';

const config: ImageConfig = { maxLongEdge: 1920, maxOutputBytes: 500_000, maxInputPixels: 40_000_000 };

/** Thumbnails of the same picture differ by a few grey levels; a rotated, negated or wrong picture by 40+. */
const SAME_PICTURE_MAD = 8;
const DIFFERENT_PICTURE_MAD = 40;

/** The contract every accepted input must meet, checked on the encoded bytes rather than on what we report. */
async function expectDiditReadyJpeg(prepared: PreparedImage): Promise<void> {
  const meta = await sharp(prepared.jpeg).metadata();
  expect(meta.format).toBe('jpeg');
  expect(prepared.outputBytes).toBe(prepared.jpeg.byteLength);
  expect(prepared.outputBytes).toBeLessThanOrEqual(config.maxOutputBytes);
  expect({ width: meta.width, height: meta.height }).toEqual({ width: prepared.width, height: prepared.height });
  expect(Math.max(meta.width, meta.height)).toBeLessThanOrEqual(config.maxLongEdge);
  expect({ space: meta.space, channels: meta.channels, depth: meta.depth }).toEqual({
    space: 'srgb',
    channels: 3,
    depth: 'uchar',
  });
  expect({ exif: meta.exif, icc: meta.icc, xmp: meta.xmp, iptc: meta.iptc, orientation: meta.orientation }).toEqual({
    exif: undefined,
    icc: undefined,
    xmp: undefined,
    iptc: undefined,
    orientation: undefined,
  });
}

async function differenceFromAstronaut(jpeg: Buffer, width: number, height: number): Promise<number> {
  return images.meanAbsoluteDifference(
    await images.astronautThumbnail(width, height),
    await images.greyThumbnail(jpeg, width, height),
  );
}

async function expectRejected(
  input: Uint8Array,
  code: FailureCode,
  settings: ImageConfig = config,
): Promise<ImageRejectedError> {
  const attempt = prepareImageForDidit(input, settings);
  await expect(attempt).rejects.toBeInstanceOf(ImageRejectedError);
  await expect(attempt).rejects.toMatchObject({ code, retryable: false });
  return attempt.then(
    () => {
      throw new Error('unreachable: the attempt was asserted to reject');
    },
    (error: unknown) => error as ImageRejectedError,
  );
}

describe('prepareImageForDidit', () => {
  describe('accepted inputs', () => {
    it.each([
      ['PNG with an ICC profile', 'png', 512, 512, images.png],
      ['baseline JPEG', 'jpeg', 512, 512, images.baselineJpeg],
      ['progressive 2400×2400 JPEG', 'jpeg', 1920, 1920, images.progressiveJpeg],
      ['WebP', 'webp', 512, 512, images.webp],
      ['TIFF', 'tiff', 512, 512, images.tiff],
      ['CMYK JPEG', 'jpeg', 512, 512, images.cmykJpeg],
      ['16-bit PNG', 'png', 512, 512, images.png16Bit],
      ['JPEG with GPS EXIF, ICC and XMP', 'jpeg', 512, 512, images.jpegWithGps],
      ['JPEG with extraneous bytes before a marker', 'jpeg', 512, 512, images.jpegWithExtraneousBytes],
      ['16×16 PNG (never enlarged)', 'png', 16, 16, images.tinyPng],
    ] as const)('%s → %s in, %i×%i clean JPEG out, same picture', async (_name, type, width, height, make) => {
      const input = await make();

      const prepared = await prepareImageForDidit(input, config);

      expect(prepared).toMatchObject({ inputType: type, inputBytes: input.byteLength, width, height });
      expect(prepared.quality).toBe(FIRST_QUALITY);
      await expectDiditReadyJpeg(prepared);
      expect(await differenceFromAstronaut(prepared.jpeg, 16, 16)).toBeLessThan(SAME_PICTURE_MAD);
    });

    it('proves the inputs really were CMYK, 16-bit and full of metadata', async () => {
      const cmyk = await sharp(await images.cmykJpeg()).metadata();
      const deep = await sharp(await images.png16Bit()).metadata();
      const leaky = await sharp(await images.jpegWithGps()).metadata();

      expect({ space: cmyk.space, channels: cmyk.channels }).toEqual({ space: 'cmyk', channels: 4 });
      expect({ space: deep.space, depth: deep.depth }).toEqual({ space: 'rgb16', depth: 'ushort' });
      // 0x8825 is the GPS IFD pointer tag; this EXIF block is little-endian.
      expect(leaky.exif?.includes(Buffer.from([0x25, 0x88]))).toBe(true);
      expect(leaky.icc).toBeInstanceOf(Buffer);
      expect(leaky.xmpAsString).toContain('dc:creator');
    });

    it('applies EXIF orientation 6: a sideways-stored 12 MP photo comes out upright at 1440×1920', async () => {
      const input = await images.exifRotated12MpJpeg();
      const stored = await sharp(input).metadata();
      expect({ width: stored.width, height: stored.height, orientation: stored.orientation }).toEqual({
        width: 4032,
        height: 3024,
        orientation: 6,
      });

      const prepared = await prepareImageForDidit(input, config);

      expect({ width: prepared.width, height: prepared.height }).toEqual({ width: 1440, height: 1920 });
      await expectDiditReadyJpeg(prepared);
      expect(await differenceFromAstronaut(prepared.jpeg, 24, 32)).toBeLessThan(SAME_PICTURE_MAD);
      // The same comparison on the pixels as stored (orientation ignored) fails, so the check above can fail too.
      const sideways = images.meanAbsoluteDifference(
        await images.astronautThumbnail(24, 32),
        await images.greyThumbnail(input, 24, 32),
      );
      expect(sideways).toBeGreaterThan(DIFFERENT_PICTURE_MAD);
    });

    it('takes only the first frame of an animated WebP', async () => {
      const input = await images.animatedWebp();
      expect((await sharp(input).metadata()).pages).toBe(2);

      const prepared = await prepareImageForDidit(input, config);

      expect({ width: prepared.width, height: prepared.height }).toEqual({ width: 512, height: 512 });
      await expectDiditReadyJpeg(prepared);
      expect(await differenceFromAstronaut(prepared.jpeg, 16, 16)).toBeLessThan(SAME_PICTURE_MAD);
      const secondFrame = await sharp(await images.png())
        .negate()
        .toBuffer();
      expect(
        images.meanAbsoluteDifference(
          await images.greyThumbnail(secondFrame, 16, 16),
          await images.greyThumbnail(prepared.jpeg, 16, 16),
        ),
      ).toBeGreaterThan(DIFFERENT_PICTURE_MAD);
    });

    it('paints transparent pixels white, not black', async () => {
      const prepared = await prepareImageForDidit(await images.transparentPng(), config);

      await expectDiditReadyJpeg(prepared);
      const { channels } = await sharp(prepared.jpeg).stats();
      expect(channels.map((c) => c.mean)).toEqual([
        expect.closeTo(255, 0),
        expect.closeTo(255, 0),
        expect.closeTo(255, 0),
      ]);
    });

    it('reads a plain Uint8Array view into a larger buffer, as an S3 body arrives', async () => {
      const jpeg = await images.baselineJpeg();
      const backing = new Uint8Array(jpeg.length + 64);
      backing.set(jpeg, 32);
      const view = backing.subarray(32, 32 + jpeg.length);

      const prepared = await prepareImageForDidit(view, config);

      expect(prepared).toMatchObject({ inputType: 'jpeg', inputBytes: jpeg.length, width: 512, height: 512 });
    });

    it('accepts an upload of exactly MAX_UPLOAD_BYTES', async () => {
      const jpeg = await images.baselineJpeg();
      const padded = Buffer.concat([jpeg, Buffer.alloc(MAX_UPLOAD_BYTES - jpeg.length)]);

      const prepared = await prepareImageForDidit(padded, config);

      expect(prepared.inputBytes).toBe(MAX_UPLOAD_BYTES);
      await expectDiditReadyJpeg(prepared);
    });
  });

  describe('byte budget', () => {
    it('lowers the quality, keeping the dimensions, when the first encode is over budget', async () => {
      const first = await prepareImageForDidit(await images.png(), config);
      const budget = first.outputBytes - 5_000;

      const prepared = await prepareImageForDidit(await images.png(), { ...config, maxOutputBytes: budget });

      expect(prepared.outputBytes).toBeLessThanOrEqual(budget);
      expect(prepared.quality).toBeLessThan(FIRST_QUALITY);
      expect({ width: prepared.width, height: prepared.height }).toEqual({ width: 512, height: 512 });
    });

    it('shrinks the dimensions as a last resort (1600×1600 of sensor noise)', async () => {
      const prepared = await prepareImageForDidit(await images.noisyJpeg(), config);

      await expectDiditReadyJpeg(prepared);
      expect(prepared.width).toBeLessThan(1600);
      expect(prepared.width).toBe(prepared.height);
    });

    it('refuses rather than return a JPEG over the budget', async () => {
      const error = await expectRejected(await images.noisyJpeg(), 'IMAGE_TOO_LARGE', {
        ...config,
        maxOutputBytes: 1_000,
      });
      expect(error.message).toContain('1000 bytes');
    });
  });

  describe('rejected inputs', () => {
    it('an empty upload → IMAGE_EMPTY', async () => {
      await expectRejected(new Uint8Array(0), 'IMAGE_EMPTY');
    });

    it('one byte over MAX_UPLOAD_BYTES → IMAGE_TOO_LARGE, before any decoding', async () => {
      const jpeg = await images.baselineJpeg();
      const padded = Buffer.concat([jpeg, Buffer.alloc(MAX_UPLOAD_BYTES + 1 - jpeg.length)]);

      const error = await expectRejected(padded, 'IMAGE_TOO_LARGE');
      expect(error.message).toContain(String(MAX_UPLOAD_BYTES + 1));
    });

    it.each([
      ['GIF', 'GIF', images.gif],
      ['SVG', 'SVG', images.svg],
      ['text file', 'plain text', images.textFile],
    ] as const)('%s → UNSUPPORTED_IMAGE_TYPE naming it', async (_name, named, make) => {
      const error = await expectRejected(await make(), 'UNSUPPORTED_IMAGE_TYPE');
      expect(error.message).toContain(`content is ${named};`);
    });

    it('an SVG is refused even though sharp itself would render it', async () => {
      const svg = await images.svg();
      expect((await sharp(svg).metadata()).format).toBe('svg');

      await expectRejected(svg, 'UNSUPPORTED_IMAGE_TYPE');
    });

    it('48 MP → IMAGE_TOO_MANY_PIXELS, stating the dimensions', async () => {
      const error = await expectRejected(await images.hugePng(), 'IMAGE_TOO_MANY_PIXELS');
      expect(error.message).toContain('8000×6000');
    });

    it('honours the configured pixel limit (12.2 MP photo, 12 MP limit)', async () => {
      const error = await expectRejected(await images.exifRotated12MpJpeg(), 'IMAGE_TOO_MANY_PIXELS', {
        ...config,
        maxInputPixels: 12_000_000,
      });
      expect(error.message).toContain('4032×3024');
    });

    it('a 60%-truncated JPEG → CORRUPT_IMAGE, keeping the decoder error as cause', async () => {
      const error = await expectRejected(await images.truncatedJpeg(), 'CORRUPT_IMAGE');
      expect(error.cause).toBeInstanceOf(Error);
      expect(String((error.cause as Error).message)).toMatch(/premature end/i);
    });

    it('a JPEG with a garbage header → CORRUPT_IMAGE', async () => {
      const error = await expectRejected(await images.corruptHeaderJpeg(), 'CORRUPT_IMAGE');
      expect(error.message).toContain('header');
      expect(error.cause).toBeInstanceOf(Error);
    });

    it.each([
      ['PNG', images.png],
      ['WebP', images.webp],
      ['TIFF', images.tiff],
    ] as const)('a %s cut to 60 percent of its bytes → CORRUPT_IMAGE', async (_name, make) => {
      const full = await make();
      await expectRejected(full.subarray(0, Math.floor(full.length * 0.6)), 'CORRUPT_IMAGE');
    });
  });
});
