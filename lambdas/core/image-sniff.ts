/**
 * Tells what an upload really is from its first bytes. The client's file name and content type are not evidence: the
 * pipeline hands only the formats below to a decoder, and names anything else in the rejection so a client that sent
 * an AVIF or a PDF learns what went wrong.
 */

/**
 * Formats the image pipeline decodes. `heic` and `heif` are both HEIF files (ISO/IEC 23008-12); which codec a `heif`
 * (brand mif1/msf1 only) holds is read from its header, and only HEVC is decoded.
 */
export type SupportedImageType = 'jpeg' | 'png' | 'webp' | 'tiff' | 'heic' | 'heif';

/** Formats recognised only so a rejection can name them. */
export type UnsupportedImageType = 'gif' | 'avif' | 'svg' | 'xml' | 'html' | 'pdf' | 'bmp' | 'text';

export type SniffResult =
  | { readonly supported: true; readonly type: SupportedImageType }
  | { readonly supported: false; readonly type: UnsupportedImageType | 'unknown' };

/** Human names for messages; kept next to the types so a new format cannot be added without one. */
export const IMAGE_TYPE_NAMES: Readonly<Record<SupportedImageType | UnsupportedImageType | 'unknown', string>> = {
  jpeg: 'JPEG',
  png: 'PNG',
  webp: 'WebP',
  tiff: 'TIFF',
  gif: 'GIF',
  heic: 'HEIC',
  heif: 'HEIF',
  avif: 'AVIF',
  svg: 'SVG',
  xml: 'XML',
  html: 'HTML',
  pdf: 'PDF',
  bmp: 'BMP',
  text: 'plain text',
  unknown: 'unrecognised data',
};

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
/** HEVC-coded HEIF: still images (heic, heix, heim, heis) and image sequences (hevc, hevx, hevm, hevs). */
const HEIC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs']);
/** AV1-coded HEIF is AVIF: still refused, checked first because AVIF files also carry mif1. */
const AVIF_BRANDS = new Set(['avif', 'avis']);
/** Codec-neutral HEIF brands: the header says what the image is coded with. */
const HEIF_BRANDS = new Set(['mif1', 'msf1', 'mif2']);
/** Enough of a text file to get past an XML prolog, a doctype and a comment or two. */
const TEXT_WINDOW_BYTES = 1024;

export function sniffImageType(bytes: Uint8Array): SniffResult {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return supported('jpeg');
  if (startsWith(bytes, PNG_SIGNATURE)) return supported('png');
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return supported('webp');
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return supported('tiff');
  }

  const header = ascii(bytes, 0, 6);
  if (header === 'GIF87a' || header === 'GIF89a') return unsupported('gif');
  if (ascii(bytes, 0, 5) === '%PDF-') return unsupported('pdf');
  // "BM" alone is too common a text prefix; a BMP file header also has two reserved 16-bit fields that are zero.
  if (ascii(bytes, 0, 2) === 'BM' && bytes.length >= 14 && bytes.subarray(6, 10).every((b) => b === 0)) {
    return unsupported('bmp');
  }
  const isoMedia = sniffIsoMedia(bytes);
  if (isoMedia === 'avif') return unsupported('avif');
  if (isoMedia) return supported(isoMedia);
  return unsupported(sniffText(bytes) ?? 'unknown');
}

/** HEIC, HEIF and AVIF are ISO base media files: an `ftyp` box whose major and compatible brands name the codec. */
function sniffIsoMedia(bytes: Uint8Array): 'heic' | 'heif' | 'avif' | undefined {
  if (bytes.length < 16 || ascii(bytes, 4, 8) !== 'ftyp') return undefined;
  const boxSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  const end = Math.min(Math.max(boxSize, 16), bytes.length);
  const brands = [ascii(bytes, 8, 12)];
  // Compatible brands follow the 4-byte minor version.
  for (let offset = 16; offset + 4 <= end; offset += 4) brands.push(ascii(bytes, offset, offset + 4));
  if (brands.some((b) => AVIF_BRANDS.has(b))) return 'avif';
  if (brands.some((b) => HEIC_BRANDS.has(b))) return 'heic';
  if (brands.some((b) => HEIF_BRANDS.has(b))) return 'heif';
  return undefined;
}

function sniffText(bytes: Uint8Array): 'svg' | 'xml' | 'html' | 'text' | undefined {
  const window = bytes.subarray(0, TEXT_WINDOW_BYTES);
  // Binary formats have control bytes or invalid UTF-8 early on; text has neither (whitespace aside).
  if (window.length === 0 || window.some((b) => b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)) {
    return undefined;
  }
  let decoded: string;
  try {
    // `stream` lets a character cut in half at the end of the window pass; any other bad sequence means binary.
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(window, { stream: true });
  } catch {
    return undefined;
  }
  const text = decoded
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  if (!text.startsWith('<')) return 'text';
  if (text.includes('<svg')) return 'svg';
  if (text.startsWith('<!doctype html') || text.includes('<html')) return 'html';
  return 'xml';
}

function supported(type: SupportedImageType): SniffResult {
  return { supported: true, type };
}

function unsupported(type: UnsupportedImageType | 'unknown'): SniffResult {
  return { supported: false, type };
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** Bytes [start, end) as Latin-1, or '' when the input is shorter, so callers compare without length checks. */
function ascii(bytes: Uint8Array, start: number, end: number): string {
  if (bytes.length < end) return '';
  return String.fromCharCode(...bytes.subarray(start, end));
}
