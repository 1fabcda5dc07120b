import sharp from 'sharp';
import { exifRotated12MpJpeg, png, progressiveJpeg } from '../test/helpers/images';

/**
 * The benchmark's uploads, all derived from the astronaut fixture with sharp exactly as the tests derive theirs (the
 * 12 MP and progressive JPEGs are the tests' own), so a fresh checkout needs no image files or tools.
 */

export type InputName = 'jpeg-12mp-exif6' | 'jpeg-progressive' | 'png-5mb' | 'webp-12mp';

export interface BenchInput {
  readonly name: InputName;
  readonly label: string;
  /** The file name suffix vipsthumbnail needs to pick its loader. */
  readonly extension: 'jpg' | 'png' | 'webp';
  readonly mime: string;
  readonly bytes: Buffer;
  /** As stored (before EXIF orientation). */
  readonly width: number;
  readonly height: number;
}

/**
 * Near the 5 MiB upload limit and over the 1920 px long edge, so the resize runs on a format without shrink-on-load.
 * An upscaled photo compresses well; sharp's default PNG settings (no adaptive filtering) keep it this large.
 */
const PNG_SIZE = { width: 1380, height: 1960 } as const;

/** An app's camera frame rather than a camera-app photo: what the end-to-end runs upload. */
const SELFIE_SIZE = { width: 1080, height: 1440 } as const;

async function fivemegabytePng(): Promise<Buffer> {
  return sharp(await png())
    .resize(PNG_SIZE.width, PNG_SIZE.height, { fit: 'cover' })
    .png()
    .toBuffer();
}

/** A phone-sized WebP (upright, no EXIF), so WebP's shrink-on-load has something to shrink. */
async function phoneWebp(): Promise<Buffer> {
  return sharp(await exifRotated12MpJpeg())
    .autoOrient()
    .webp({ quality: 85 })
    .toBuffer();
}

export async function selfieJpeg(): Promise<Buffer> {
  return sharp(await png())
    .resize(SELFIE_SIZE.width, SELFIE_SIZE.height, { fit: 'cover' })
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function describe(
  name: InputName,
  label: string,
  extension: BenchInput['extension'],
  mime: string,
  bytes: Buffer,
): Promise<BenchInput> {
  const meta = await sharp(bytes).metadata();
  return { name, label, extension, mime, bytes, width: meta.width, height: meta.height };
}

export async function benchInputs(): Promise<BenchInput[]> {
  return Promise.all([
    describe('jpeg-12mp-exif6', '12 MP JPEG, EXIF orientation 6', 'jpg', 'image/jpeg', await exifRotated12MpJpeg()),
    describe('jpeg-progressive', 'progressive JPEG 2400²', 'jpg', 'image/jpeg', await progressiveJpeg()),
    describe('png-5mb', `PNG ${PNG_SIZE.width}×${PNG_SIZE.height}`, 'png', 'image/png', await fivemegabytePng()),
    describe('webp-12mp', 'WebP 3024×4032', 'webp', 'image/webp', await phoneWebp()),
  ]);
}
