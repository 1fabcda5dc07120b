import { readFile } from 'node:fs/promises';
import { constants, crc32, deflateRawSync } from 'node:zlib';
import sharp from 'sharp';
import { MAX_UPLOAD_BYTES } from '../../lambdas/core/upload-rules';
import { ASTRONAUT_PATH } from './images';

/**
 * Hostile inputs that are cheaper to make than to commit: decompression bombs, the eight EXIF orientations, files at
 * and over the size limit. Each is built once per test process. The committed ones (polyglots, SVG, HEIC, GIF, GPS
 * EXIF…) live in test/fixtures/hostile/ and are read with {@link hostileFixture}.
 */

const cache = new Map<string, Promise<Buffer>>();

function memo(name: string, make: () => Promise<Buffer> | Buffer): () => Promise<Buffer> {
  return () => {
    let pending = cache.get(name);
    if (!pending) {
      pending = Promise.resolve().then(make);
      cache.set(name, pending);
    }
    return pending;
  };
}

export type HostileFixture =
  | 'polyglot-jpeg-html.jpg'
  | 'polyglot-html-jpeg.jpg'
  | 'html-page.jpg'
  | 'script-xxe.svg.jpg'
  | 'header-only.heic'
  | 'small.avif'
  | 'small.gif'
  | 'pdf-header.jpg'
  | 'gps-exif.jpg';

export function hostileFixture(name: HostileFixture): Promise<Buffer> {
  return memo(`fixture:${name}`, () => readFile(new URL(`../fixtures/hostile/${name}`, import.meta.url)))();
}

// ─── Decompression bombs ────────────────────────────────────────────────────────────────────────────────────────────

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Deflating 1 MiB of zeros once and repeating it keeps an 805 MB image to a few ms of work. */
const ZERO_SEGMENT_BYTES = 1 << 20;
const ADLER_MODULUS = 65_521;

export interface BlackPngSpec {
  readonly width: number;
  readonly height: number;
  /** 1-bit greyscale (colour type 0) or 8-bit RGB (colour type 2). */
  readonly kind: '1-bit' | 'rgb';
}

/**
 * A valid, completely black PNG of any size, written byte by byte. Its filtered scanlines are all zero bytes (filter
 * 0, black pixels), so the zlib stream is one deflated 1 MiB block of zeros repeated: each segment ends in a full
 * flush, which byte-aligns it and resets the history, so copies can be concatenated. The Adler-32 of n zero bytes is
 * (n mod 65521) << 16 | 1. A 16383² RGB image (805 MB of pixels) comes out at about 780 KB, as zlib itself would make.
 */
export function blackPng({ width, height, kind }: BlackPngSpec): Buffer {
  const bitsPerPixel = kind === '1-bit' ? 1 : 24;
  const rawBytes = (1 + Math.ceil((width * bitsPerPixel) / 8)) * height;
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = kind === '1-bit' ? 1 : 8; // bit depth
  header[9] = kind === '1-bit' ? 0 : 2; // colour type
  // compression 0, filter method 0, no interlace
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', zlibOfZeros(rawBytes)), chunk('IEND')]);
}

function zlibOfZeros(length: number): Buffer {
  const segment = (bytes: number) =>
    deflateRawSync(Buffer.alloc(bytes), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const parts: Buffer[] = [Buffer.from([0x78, 0xda])];
  const full = Math.floor(length / ZERO_SEGMENT_BYTES);
  if (full > 0) {
    const one = segment(ZERO_SEGMENT_BYTES);
    for (let i = 0; i < full; i++) parts.push(one);
  }
  const rest = length % ZERO_SEGMENT_BYTES;
  if (rest > 0) parts.push(segment(rest));
  // The final (empty) block closes the deflate stream.
  parts.push(deflateRawSync(Buffer.alloc(0)));
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((length % ADLER_MODULUS) << 16) | 1) >>> 0);
  parts.push(adler);
  return Buffer.concat(parts);
}

function chunk(type: string, data: Buffer = Buffer.alloc(0)): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData) >>> 0);
  return Buffer.concat([length, typeAndData, crc]);
}

/** 900 MP at 1 bit per pixel: ~110 KB on disk (zlib's ~1000:1 ceiling), 112 MB of scanlines, 2.7 GB as RGB pixels. */
export const BOMB_1BIT = { width: 30_000, height: 30_000, kind: '1-bit' } as const satisfies BlackPngSpec;
/** 268 MP RGB, just under libvips' default pixel limit: ~780 KB on disk, 805 MB decoded. */
export const BOMB_RGB = { width: 16_383, height: 16_383, kind: 'rgb' } as const satisfies BlackPngSpec;

export const bomb1Bit = memo('bomb-1bit', () => blackPng(BOMB_1BIT));
export const bombRgb = memo('bomb-rgb', () => blackPng(BOMB_RGB));

// ─── EXIF orientations ─────────────────────────────────────────────────────────────────────────────────────────────

/** Portrait, so a transposing mistake also shows in the output's width and height. */
export const ORIENTED_SIZE = { width: 192, height: 256 } as const;
export const ORIENTATIONS = [1, 2, 3, 4, 5, 6, 7, 8] as const;
export type Orientation = (typeof ORIENTATIONS)[number];

type Step = 'flop' | 'flip' | 90 | 180 | 270;

/**
 * What to do to the upright picture to get the pixels a camera stores with this EXIF orientation: the inverse of the
 * display transform the tag asks for. 5 (transpose) and 7 (transverse) are their own inverses.
 */
const STORED_FROM_UPRIGHT: Readonly<Record<Orientation, readonly Step[]>> = {
  1: [],
  2: ['flop'],
  3: [180],
  4: ['flip'],
  5: [90, 'flop'],
  6: [270],
  7: [90, 'flip'],
  8: [90],
};

/** The upright astronaut at ORIENTED_SIZE, as raw RGB. */
const uprightRaw = memo('upright-raw', () =>
  sharp(ASTRONAUT_PATH)
    .resize(ORIENTED_SIZE.width, ORIENTED_SIZE.height, { fit: 'cover' })
    .removeAlpha()
    .raw()
    .toBuffer(),
);

/** A JPEG whose stored pixels are turned and mirrored as orientation `n` describes, tagged with that orientation. */
export function orientedJpeg(orientation: Orientation): Promise<Buffer> {
  return memo(`oriented-${orientation}`, async () => {
    let pixels = await uprightRaw();
    let width: number = ORIENTED_SIZE.width;
    let height: number = ORIENTED_SIZE.height;
    // One step per pass: sharp applies rotate and flip/flop in a fixed order of its own within one pipeline.
    for (const step of STORED_FROM_UPRIGHT[orientation]) {
      let pipeline = sharp(pixels, { raw: { width, height, channels: 3 } });
      pipeline = step === 'flop' ? pipeline.flop() : step === 'flip' ? pipeline.flip() : pipeline.rotate(step);
      const out = await pipeline.raw().toBuffer({ resolveWithObject: true });
      pixels = out.data;
      width = out.info.width;
      height = out.info.height;
    }
    return sharp(pixels, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 90 })
      .withMetadata({ orientation })
      .toBuffer();
  })();
}

/** Greyscale raw thumbnail of the upright picture: what every oriented JPEG must come out as. */
export function uprightThumbnail(width = 48, height = 64): Promise<Buffer> {
  return memo(`upright-thumb-${width}x${height}`, async () =>
    sharp(await uprightRaw(), { raw: { ...ORIENTED_SIZE, channels: 3 } })
      .resize(width, height, { fit: 'fill' })
      .greyscale()
      .raw()
      .toBuffer(),
  )();
}

// ─── Sizes at the edges ────────────────────────────────────────────────────────────────────────────────────────────

/** A real photo padded with zeros after its end-of-image marker (decoders ignore trailing bytes) to `size` bytes. */
async function paddedJpeg(size: number): Promise<Buffer> {
  const jpeg = await sharp(ASTRONAUT_PATH).jpeg({ quality: 85 }).toBuffer();
  return Buffer.concat([jpeg, Buffer.alloc(size - jpeg.length)]);
}

/** Exactly the limit: accepted. */
export const jpegAtSizeLimit = memo('jpeg-5mib', () => paddedJpeg(MAX_UPLOAD_BYTES));
/** One byte over: refused by the POST policy in AWS, and by the processor whatever path it came by. */
export const jpegOverSizeLimit = memo('jpeg-5mib+1', () => paddedJpeg(MAX_UPLOAD_BYTES + 1));

/** 16×16: a face there has a few pixels. The pipeline accepts it (no minimum size); Didit decides. */
export const tinyPng = memo('tiny-16', () => sharp(ASTRONAUT_PATH).resize(16, 16).png().toBuffer());
/** 1×1. */
export const onePixelPng = memo('one-pixel', () =>
  sharp({ create: { width: 1, height: 1, channels: 3, background: '#7f7f7f' } })
    .png()
    .toBuffer(),
);
