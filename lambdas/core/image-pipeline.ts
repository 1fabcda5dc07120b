import sharp, { type Channels, type Metadata, type Sharp, type SharpOptions } from 'sharp';
import { ImageRejectedError } from '../errors';
import { decodeHeic } from './heic-decoder';
import { type HeifHeader, HeifHeaderError, readHeifHeader } from './heif-header';
import { IMAGE_TYPE_NAMES, type SupportedImageType, sniffImageType } from './image-sniff';
import { MAX_UPLOAD_BYTES } from './upload-rules';

/**
 * Turns an untrusted upload into the one thing Didit gets: an upright, metadata-free sRGB JPEG within the size and
 * dimension budget. Every way an upload can be unusable ends in an ImageRejectedError with a specific code.
 */

/** The image budget, from the processor's settings. */
export interface ImageConfig {
  readonly maxLongEdge: number;
  readonly maxOutputBytes: number;
  readonly maxInputPixels: number;
}

export interface PreparedImage {
  readonly jpeg: Buffer;
  readonly width: number;
  readonly height: number;
  readonly inputType: SupportedImageType;
  readonly inputBytes: number;
  readonly outputBytes: number;
  /** The JPEG quality of the encode that fitted the byte budget. */
  readonly quality: number;
}

/** A 12 MP photo resized to 1440×1920 measured 240–345 KB at about this quality, so one encode is the norm. */
export const FIRST_QUALITY = 82;
const QUALITY_STEP = 10;
/** Below this, block artefacts could pass for recapture artefacts to a liveness model; fewer pixels are safer. */
const MIN_QUALITY = 42;
/** Last resort when even MIN_QUALITY is too big (sensor noise, film grain): shrink by this factor per attempt. */
const SHRINK_FACTOR = 0.75;
/** A face needs some pixels; below this long edge we give up rather than send Didit a thumbnail. */
const MIN_LONG_EDGE = 256;

/** For messages: what the sniffer lets through, in words. */
export const ACCEPTED_IMAGE_TYPES_TEXT = 'JPEG, PNG, WebP, TIFF and HEIC (HEVC-coded HEIF)';

export async function prepareImageForDidit(input: Uint8Array, config: ImageConfig): Promise<PreparedImage> {
  const inputBytes = input.byteLength;
  if (inputBytes === 0) throw new ImageRejectedError('IMAGE_EMPTY', 'The upload is empty');
  if (inputBytes > MAX_UPLOAD_BYTES) {
    throw new ImageRejectedError(
      'IMAGE_TOO_LARGE',
      `The upload is ${inputBytes} bytes; the limit is ${MAX_UPLOAD_BYTES}`,
    );
  }

  const sniffed = sniffImageType(input);
  if (!sniffed.supported) {
    throw new ImageRejectedError(
      'UNSUPPORTED_IMAGE_TYPE',
      `The upload's content is ${IMAGE_TYPE_NAMES[sniffed.type]}; accepted types are ${ACCEPTED_IMAGE_TYPES_TEXT}`,
    );
  }

  const source =
    sniffed.type === 'heic' || sniffed.type === 'heif'
      ? await heifSource(input, sniffed.type, config)
      : await encodedSource(input, sniffed.type, config);

  // One pass from the upload to the JPEG is the common case (bench: ~15% faster than decoding to raw first); only an
  // image still over budget is decoded to raw pixels, so the lower qualities do not decode the original again.
  const first = await decodeAndEncode(source, config);
  if (first.jpeg.byteLength <= config.maxOutputBytes) {
    return { ...first, inputType: sniffed.type, inputBytes, outputBytes: first.jpeg.byteLength };
  }
  const decoded = await decodeToFit(source, config);
  const encoded = await encodeWithinBudget(decoded, config.maxOutputBytes, FIRST_QUALITY - QUALITY_STEP);
  return { ...encoded, inputType: sniffed.type, inputBytes, outputBytes: encoded.jpeg.byteLength };
}

/** Opens the upload as an upright sharp pipeline, with the input pixel limit applied to every decode. */
type Source = (limitInputPixels: number) => Sharp;

function refuseOverPixelLimit(width: number, height: number, decodedPixels: number, config: ImageConfig): void {
  const pixels = width * height;
  if (Math.max(pixels, decodedPixels) > config.maxInputPixels) {
    throw new ImageRejectedError(
      'IMAGE_TOO_MANY_PIXELS',
      `The image is ${width}×${height} (${Math.max(pixels, decodedPixels)} pixels); the limit is ${config.maxInputPixels}`,
    );
  }
}

/** JPEG, PNG, WebP and TIFF: libvips reads the header, then decodes (and turns by EXIF) inside the pipeline. */
async function encodedSource(input: Uint8Array, type: SupportedImageType, config: ImageConfig): Promise<Source> {
  const metadata = await readHeader(input, type);
  refuseOverPixelLimit(metadata.width, metadata.height, 0, config);
  return (limit) => sharp(input, decoderOptions(limit)).autoOrient();
}

/**
 * HEIF: the header is read here (codec, pixels, rotation) and the pixel limit enforced on it before anything decodes;
 * then libheif decodes the HEVC data once, turned by `irot`/`imir`, and sharp takes the raw pixels from there. The
 * EXIF orientation is applied only to a file without `irot`/`imir`: phones write both, describing the same turn, and
 * HEIF readers follow the transformation properties (applying both would turn the picture twice).
 */
async function heifSource(input: Uint8Array, type: 'heic' | 'heif', config: ImageConfig): Promise<Source> {
  let header: HeifHeader;
  try {
    header = readHeifHeader(input);
  } catch (error) {
    if (!(error instanceof HeifHeaderError)) throw error;
    throw new ImageRejectedError(
      'CORRUPT_IMAGE',
      `The ${IMAGE_TYPE_NAMES[type]} header cannot be read: ${error.message}`,
      {
        cause: error,
      },
    );
  }
  if (header.codec !== 'hevc') {
    throw new ImageRejectedError(
      'UNSUPPORTED_IMAGE_TYPE',
      `The upload is a HEIF image coded with ${HEIF_CODEC_NAMES[header.codec]} (item type ${header.primaryItemType}); ` +
        `HEIF is accepted when HEVC-coded (HEIC). Accepted types are ${ACCEPTED_IMAGE_TYPES_TEXT}`,
    );
  }
  refuseOverPixelLimit(header.width, header.height, header.decodedPixels, config);

  let decoded: Awaited<ReturnType<typeof decodeHeic>>;
  try {
    decoded = await decodeHeic(input);
  } catch (error) {
    throw new ImageRejectedError('CORRUPT_IMAGE', `The ${IMAGE_TYPE_NAMES[type]} image cannot be decoded`, {
      cause: error,
    });
  }
  // libheif refuses a coded picture larger than the header says; this holds it to that whatever its version does.
  if (decoded.width * decoded.height > header.decodedPixels) {
    throw new ImageRejectedError('CORRUPT_IMAGE', `The ${IMAGE_TYPE_NAMES[type]} image is larger than its header says`);
  }
  const orientation = header.transformed ? 1 : (header.exifOrientation ?? 1);
  const raw = { width: decoded.width, height: decoded.height, channels: decoded.channels };
  return (limit) => orient(sharp(decoded.pixels, { raw, limitInputPixels: limit }), orientation);
}

const HEIF_CODEC_NAMES: Readonly<Record<HeifHeader['codec'], string>> = {
  hevc: 'HEVC',
  av1: 'AV1',
  jpeg: 'JPEG',
  avc: 'H.264',
  vvc: 'H.266',
  uncompressed: 'no compression',
  other: 'an unknown codec',
};

/**
 * What autoOrient() does for an EXIF Orientation, for pixels that carry no EXIF of their own. Within one pipeline sharp
 * mirrors (flip/flop) before it rotates, so 5 (transpose) is a vertical mirror then a quarter turn clockwise, and 7
 * (transverse) a horizontal mirror then the same turn (test/unit/exif-orientations.test.ts checks all eight against
 * autoOrient on a JPEG).
 */
function orient(image: Sharp, orientation: number): Sharp {
  switch (orientation) {
    case 2:
      return image.flop();
    case 3:
      return image.rotate(180);
    case 4:
      return image.flip();
    case 5:
      return image.rotate(90).flip();
    case 6:
      return image.rotate(90);
    case 7:
      return image.rotate(90).flop();
    case 8:
      return image.rotate(270);
    default:
      return image;
  }
}

function decoderOptions(limitInputPixels: number | false): SharpOptions {
  return {
    // 'error' rejects truncated files and undecodable data instead of returning a half-grey image. The stricter
    // 'warning' would also reject the "extraneous bytes before marker" JPEGs that some Android cameras write,
    // which decode correctly; refusing real users' selfies for that is worse than accepting them.
    failOn: 'error',
    // The header is read without a limit so the rejection can state the dimensions; decoding always has one.
    limitInputPixels,
    // Animated WebP and multi-page TIFF: the first frame is the photo, the rest would stack into one tall image.
    pages: 1,
  };
}

/** Only the header is parsed here, so a failure means the file is not a readable image of the type it claims. */
async function readHeader(input: Uint8Array, type: SupportedImageType): Promise<Metadata> {
  try {
    return await sharp(input, decoderOptions(false)).metadata();
  } catch (error) {
    throw new ImageRejectedError('CORRUPT_IMAGE', `The ${IMAGE_TYPE_NAMES[type]} header cannot be read`, {
      cause: error,
    });
  }
}

interface RawImage {
  readonly pixels: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: Channels;
}

/** Orient, fit, flatten and convert to 8-bit sRGB: the same normalisation for the one-pass and the raw path. */
function normalised(source: Source, config: ImageConfig): Sharp {
  return (
    source(config.maxInputPixels)
      // `fit: inside` on both edges lets libjpeg and libwebp shrink while decoding when the factor is 3 or more
      // (shrink-on-load); a 12 MP photo to 1920 px (factor 2.1) is decoded whole, which is what the time goes on.
      .resize({
        width: config.maxLongEdge,
        height: config.maxLongEdge,
        fit: 'inside',
        withoutEnlargement: true,
      })
      // JPEG has no alpha; white is what a transparent PNG selfie looks like in the app that took it.
      .flatten({ background: '#ffffff' })
      // Converts CMYK (via an embedded or built-in profile), greyscale and 16-bit input to 8-bit sRGB.
      .toColourspace('srgb')
  );
}

/** The first attempt, straight from the upload to a JPEG at the first quality. The header was readable, so a failure
 * here is damaged pixel data. */
async function decodeAndEncode(
  source: Source,
  config: ImageConfig,
): Promise<{ jpeg: Buffer; width: number; height: number; quality: number }> {
  try {
    // No withMetadata/keepExif: sharp writes none, so EXIF (GPS included), ICC and XMP never reach Didit.
    const { data, info } = await normalised(source, config)
      .jpeg({ quality: FIRST_QUALITY, chromaSubsampling: '4:2:0' })
      .toBuffer({ resolveWithObject: true });
    return { jpeg: data, width: info.width, height: info.height, quality: FIRST_QUALITY };
  } catch (error) {
    throw new ImageRejectedError('CORRUPT_IMAGE', 'The image data is damaged or truncated', { cause: error });
  }
}

/**
 * Decodes once to 8-bit sRGB pixels at the final size, so further encodes at lower quality do not decode the
 * original again.
 */
async function decodeToFit(source: Source, config: ImageConfig): Promise<RawImage> {
  try {
    const { data, info } = await normalised(source, config).raw().toBuffer({ resolveWithObject: true });
    return { pixels: data, width: info.width, height: info.height, channels: info.channels };
  } catch (error) {
    throw new ImageRejectedError('CORRUPT_IMAGE', 'The image data is damaged or truncated', { cause: error });
  }
}

/**
 * Lowers the quality step-wise, then the dimensions, until the JPEG fits. The pixels are already decoded, so an
 * error here is ours, not the upload's, and is left to surface as an internal error.
 */
async function encodeWithinBudget(
  image: RawImage,
  maxBytes: number,
  startQuality: number,
): Promise<{ jpeg: Buffer; width: number; height: number; quality: number }> {
  for (let quality = startQuality; quality >= MIN_QUALITY; quality -= QUALITY_STEP) {
    const jpeg = await encode(image, image.width, image.height, quality);
    if (jpeg.byteLength <= maxBytes) return { jpeg, width: image.width, height: image.height, quality };
  }

  let scale = SHRINK_FACTOR;
  while (Math.max(image.width, image.height) * scale >= MIN_LONG_EDGE) {
    const width = Math.max(1, Math.round(image.width * scale));
    const height = Math.max(1, Math.round(image.height * scale));
    const jpeg = await encode(image, width, height, MIN_QUALITY);
    if (jpeg.byteLength <= maxBytes) return { jpeg, width, height, quality: MIN_QUALITY };
    scale *= SHRINK_FACTOR;
  }
  throw new ImageRejectedError(
    'IMAGE_TOO_LARGE',
    `The image cannot be compressed below ${maxBytes} bytes at ${MIN_LONG_EDGE} pixels or more`,
  );
}

function encode(image: RawImage, width: number, height: number, quality: number): Promise<Buffer> {
  let pipeline = sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: image.channels } });
  if (width !== image.width || height !== image.height) pipeline = pipeline.resize(width, height, { fit: 'fill' });
  // No withMetadata/keepExif: sharp writes none, so EXIF (GPS included), ICC and XMP never reach Didit.
  return pipeline.jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
}
