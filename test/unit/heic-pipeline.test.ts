import sharp from 'sharp';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeHeic } from '../../lambdas/core/heic-decoder';
import { type ImageConfig, prepareImageForDidit } from '../../lambdas/core/image-pipeline';
import { type FailureCode, ImageRejectedError } from '../../lambdas/errors';
import { HEIC_UPRIGHT, type HeicFixture, readHeic } from '../helpers/heic-images';
import { greyThumbnail, meanAbsoluteDifference } from '../helpers/images';

// The decoder is wrapped in a spy (calling the real one) so a test can prove a refusal happened before decoding.
vi.mock('../../lambdas/core/heic-decoder', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../lambdas/core/heic-decoder')>();
  return { ...real, decodeHeic: vi.fn(real.decodeHeic) };
});

const config: ImageConfig = { maxLongEdge: 1920, maxOutputBytes: 500_000, maxInputPixels: 40_000_000 };
/** Thumbnails of the same picture through two lossy codecs differ by a few grey levels; a turned one by 25+. */
const SAME_PICTURE_MAD = 8;
const WRONG_TURN_MAD = 15;

afterEach(() => {
  vi.mocked(decodeHeic).mockClear();
});

/** The upright reference: the plain HEIC fixture's own pixels (same crop, same HEVC losses). */
async function uprightThumbnail(): Promise<Buffer> {
  const plain = await decodeHeic(readHeic('astronaut.heic'));
  return sharp(plain.pixels, { raw: plain }).resize(48, 64, { fit: 'fill' }).greyscale().raw().toBuffer();
}

async function expectCleanUprightJpeg(
  file: HeicFixture,
  size: { width: number; height: number } = HEIC_UPRIGHT,
): Promise<Buffer> {
  const input = readHeic(file);
  const prepared = await prepareImageForDidit(input, config);

  expect(prepared).toMatchObject({ inputType: 'heic', inputBytes: input.byteLength, ...size });
  const meta = await sharp(prepared.jpeg).metadata();
  expect({
    format: meta.format,
    width: meta.width,
    height: meta.height,
    space: meta.space,
    exif: meta.exif,
    icc: meta.icc,
    xmp: meta.xmp,
    orientation: meta.orientation,
  }).toEqual({
    format: 'jpeg',
    ...size,
    space: 'srgb',
    exif: undefined,
    icc: undefined,
    xmp: undefined,
    orientation: undefined,
  });
  expect(prepared.outputBytes).toBeLessThanOrEqual(config.maxOutputBytes);
  const difference = meanAbsoluteDifference(await uprightThumbnail(), await greyThumbnail(prepared.jpeg, 48, 64));
  expect(difference, `${file} is not the upright picture`).toBeLessThan(SAME_PICTURE_MAD);
  return prepared.jpeg;
}

/** The plain fixture with every byte of its HEVC data after the first NAL length destroyed; the boxes intact. */
function destroyedHevcData(): Buffer {
  const bytes = Buffer.from(readHeic('astronaut.heic'));
  const mdat = bytes.indexOf(Buffer.from('mdat', 'latin1')) + 4;
  return bytes.fill(0xff, mdat + 8, bytes.length);
}

async function expectRejected(input: Uint8Array, code: FailureCode, settings = config): Promise<ImageRejectedError> {
  const error = await prepareImageForDidit(input, settings).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ImageRejectedError);
  expect(error).toMatchObject({ code, retryable: false });
  return error as ImageRejectedError;
}

describe('HEIC through the image pipeline', () => {
  it('the turned fixtures really are stored sideways: read as stored, they are not the upright picture', async () => {
    for (const file of ['astronaut-exif6.heic', 'astronaut-irot.heic'] as const) {
      // Decoding applies irot, so the irot file's stored pixels are the exif6 file's (same coded data).
      const stored = await decodeHeic(readHeic('astronaut-exif6.heic'));
      expect({ file, width: stored.width, height: stored.height }).toEqual({ file, width: 512, height: 384 });
      const asStored = await sharp(stored.pixels, { raw: stored })
        .resize(48, 64, { fit: 'fill' })
        .greyscale()
        .raw()
        .toBuffer();
      expect(meanAbsoluteDifference(await uprightThumbnail(), asStored)).toBeGreaterThan(WRONG_TURN_MAD);
    }
  });

  it('a plain HEIC from heif-enc → an upright, metadata-free JPEG', async () => {
    await expectCleanUprightJpeg('astronaut.heic');
  });

  it('turns a HEIC that says how only in EXIF (Orientation 6, no irot)', async () => {
    await expectCleanUprightJpeg('astronaut-exif6.heic');
  });

  it('turns a phone HEIC by irot once, not again by its EXIF Orientation 6', async () => {
    await expectCleanUprightJpeg('astronaut-irot.heic');
  });

  it('assembles a grid of tiles', async () => {
    await expectCleanUprightJpeg('astronaut-grid.heic');
  });

  it('a 12 MP phone HEIC (8×6 tiles, irot, EXIF) → 1440×1920 upright JPEG within 500 000 bytes', async () => {
    const jpeg = await expectCleanUprightJpeg('astronaut-12mp.heic', { width: 1440, height: 1920 });
    expect(jpeg.byteLength).toBeGreaterThan(50_000);
  });

  it('decodes a HEIC once, even when the first JPEG is over budget and lower qualities follow', async () => {
    const tight = { ...config, maxOutputBytes: 20_000 };
    const prepared = await prepareImageForDidit(readHeic('astronaut.heic'), tight);

    expect(prepared.quality).toBeLessThan(82);
    expect(prepared.outputBytes).toBeLessThanOrEqual(20_000);
    expect(decodeHeic).toHaveBeenCalledTimes(1);
  });
});

describe('HEIC refusals', () => {
  it('refuses a HEIC over the pixel limit from its header, before decoding anything', async () => {
    const error = await expectRejected(readHeic('astronaut-12mp.heic'), 'IMAGE_TOO_MANY_PIXELS', {
      ...config,
      maxInputPixels: 12_000_000,
    });

    // The tiles (12,582,912 pixels) count, not the 4032×3024 = 12,192,768 the grid shows.
    expect(error.message).toBe('The image is 4032×3024 (12582912 pixels); the limit is 12000000');
    expect(decodeHeic).not.toHaveBeenCalled();
  });

  it('refuses a truncated HEIC as CORRUPT_IMAGE, naming what is missing, before decoding', async () => {
    const error = await expectRejected(readHeic('astronaut-truncated.heic'), 'CORRUPT_IMAGE');

    expect(error.message).toMatch(/^The HEIC header cannot be read: the mdat box .* claims 21571 bytes/);
    expect(decodeHeic).not.toHaveBeenCalled();
  });

  it('refuses a HEIC whose coded picture is larger than its header says (libheif holds it to ispe)', async () => {
    const error = await expectRejected(readHeic('astronaut-ispe-lie.heic'), 'CORRUPT_IMAGE');

    expect(error.message).toBe('The HEIC image cannot be decoded');
    expect((error.cause as Error).message).toMatch(/Security limit exceeded: Image size 384x512 exceeds/);
  });

  it('decodes HEVC data damaged inside an intact file the way libde265 conceals it (documented limit)', async () => {
    // libheif's JavaScript API decodes without strict mode, so libde265 conceals bitstream errors instead of failing
    // (as phone galleries show a smeared photo). Structural damage (the cut upload above, a lying header) is refused;
    // this pins the remaining behaviour so a change to it is seen: a picture that is no longer the photo goes on to
    // Didit, which judges it (no face: declined).
    const prepared = await prepareImageForDidit(destroyedHevcData(), config);

    expect(prepared).toMatchObject(HEIC_UPRIGHT);
    const difference = meanAbsoluteDifference(await uprightThumbnail(), await greyThumbnail(prepared.jpeg, 48, 64));
    expect(difference).toBeGreaterThan(WRONG_TURN_MAD);
  });

  it("never fills a damaged picture with the previous upload's pixels (one decoder instance per image)", async () => {
    // Measured with a shared instance: the damaged file decoded right after a good one came out as that good photo
    // (libde265 leaves concealed areas unwritten; the reused heap still held the last picture).
    await prepareImageForDidit(readHeic('astronaut.heic'), config);
    const damaged = await prepareImageForDidit(destroyedHevcData(), config);

    const difference = meanAbsoluteDifference(await uprightThumbnail(), await greyThumbnail(damaged.jpeg, 48, 64));
    expect(difference).toBeGreaterThan(WRONG_TURN_MAD);
  });

  it('refuses a HEIF coded with AV1 as UNSUPPORTED_IMAGE_TYPE, saying which codec and what is accepted', async () => {
    const error = await expectRejected(readHeic('av1-in-heif.heif'), 'UNSUPPORTED_IMAGE_TYPE');

    expect(error.message).toBe(
      'The upload is a HEIF image coded with AV1 (item type av01); HEIF is accepted when HEVC-coded (HEIC). ' +
        'Accepted types are JPEG, PNG, WebP, TIFF and HEIC (HEVC-coded HEIF)',
    );
    expect(decodeHeic).not.toHaveBeenCalled();
  });
});
