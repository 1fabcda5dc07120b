import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The committed HEIC fixtures (test/fixtures/heic, made from the astronaut by make-fixtures.ts with heif-enc). The
 * small ones are a 384×512 portrait; `astronaut-12mp.heic` is a phone photo: 4032×3024 stored, shown 3024×4032.
 */
export type HeicFixture =
  | 'astronaut.heic'
  | 'astronaut-exif6.heic'
  | 'astronaut-irot.heic'
  | 'astronaut-grid.heic'
  | 'astronaut-12mp.heic'
  | 'astronaut-truncated.heic'
  | 'astronaut-ispe-lie.heic'
  | 'av1-in-heif.heif';

/** The size every small fixture shows once turned upright. */
export const HEIC_UPRIGHT = { width: 384, height: 512 } as const;

export function heicFixture(name: HeicFixture): string {
  return fileURLToPath(new URL(`../fixtures/heic/${name}`, import.meta.url));
}

export function readHeic(name: HeicFixture): Buffer {
  return readFileSync(heicFixture(name));
}

/**
 * The EXIF-turned fixture with its Orientation tag rewritten to `orientation`: the same stored (sideways) pixels,
 * described by each of the eight EXIF orientations. The tag is found as its IFD entry (tag 0x0112, type SHORT, count 1)
 * in either byte order.
 */
export function exifTurnedHeic(orientation: number): Buffer {
  const bytes = Buffer.from(readHeic('astronaut-exif6.heic'));
  const bigEndian = bytes.indexOf(Buffer.from([0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]));
  const littleEndian = bytes.indexOf(Buffer.from([0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00]));
  if (bigEndian >= 0) bytes.writeUInt16BE(orientation, bigEndian + 8);
  else if (littleEndian >= 0) bytes.writeUInt16LE(orientation, littleEndian + 8);
  else throw new Error('astronaut-exif6.heic has no EXIF Orientation entry');
  return bytes;
}
