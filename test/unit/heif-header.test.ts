import { describe, expect, it } from 'vitest';
import { HeifHeaderError, readExifOrientation, readHeifHeader } from '../../lambdas/core/heif-header';
import { readHeic } from '../helpers/heic-images';
import { hostileFixture } from '../helpers/hostile-images';

// The header is what the pixel limit and the orientation decision rest on, so it is read from real files (heif-enc's
// own and the phone layouts assembled from its coded tiles) and from broken ones.

describe('readHeifHeader on real files', () => {
  it.each([
    ['heif-enc, upright', 'astronaut.heic', { primaryItemType: 'hvc1', width: 384, height: 512, transformed: false }],
    [
      'heif-enc from a JPEG with EXIF Orientation 6 (libheif 1.15 writes no irot)',
      'astronaut-exif6.heic',
      { primaryItemType: 'hvc1', width: 512, height: 384, transformed: false, exifOrientation: 6 },
    ],
    [
      'phone layout: irot plus EXIF Orientation 6',
      'astronaut-irot.heic',
      { primaryItemType: 'hvc1', width: 512, height: 384, transformed: true, exifOrientation: 6 },
    ],
    ['a 2×2 grid', 'astronaut-grid.heic', { primaryItemType: 'grid', width: 384, height: 512, transformed: false }],
  ] as const)('%s', (_name, file, expected) => {
    const header = readHeifHeader(readHeic(file));
    expect(header).toEqual({
      codec: 'hevc',
      decodedPixels: 384 * 512,
      exifOrientation: undefined,
      ...expected,
    });
  });

  it('counts every tile of a 12 MP phone grid: 8×6 tiles of 512² (more than the 4032×3024 it shows)', () => {
    expect(readHeifHeader(readHeic('astronaut-12mp.heic'))).toEqual({
      codec: 'hevc',
      primaryItemType: 'grid',
      width: 4032,
      height: 3024,
      decodedPixels: 48 * 512 * 512,
      transformed: true,
      exifOrientation: 6,
    });
  });

  it('names the codec of a HEIF that is not HEVC (AV1 under mif1 brands)', () => {
    expect(readHeifHeader(readHeic('av1-in-heif.heif'))).toMatchObject({ codec: 'av1', primaryItemType: 'av01' });
  });

  it('takes the size from ispe as written, so a lying header is what libheif is held to', () => {
    expect(readHeifHeader(readHeic('astronaut-ispe-lie.heic'))).toMatchObject({ width: 64, height: 64 });
  });
});

describe('readHeifHeader on broken files', () => {
  it('refuses a truncated file: its mdat box claims more bytes than there are', () => {
    expect(() => readHeifHeader(readHeic('astronaut-truncated.heic'))).toThrow(
      new HeifHeaderError('the mdat box at byte 351 claims 21571 bytes; only 12802 are there'),
    );
  });

  it('refuses the ftyp + empty meta an iPhone file opens with', async () => {
    const headerOnly = await hostileFixture('header-only.heic');
    expect(() => readHeifHeader(new Uint8Array(0))).toThrow(/no meta box/);
    expect(() => readHeifHeader(headerOnly)).toThrow(/no pitm box in meta/);
  });

  it('refuses an ipma that names a property ipco does not have', () => {
    const bytes = Buffer.from(readHeic('astronaut.heic'));
    const ipma = bytes.indexOf(Buffer.from('ipma', 'latin1'));
    // ipma: header, version/flags, entry_count u32, item_ID u16, count u8, then the first association byte.
    bytes[ipma + 4 + 4 + 4 + 2 + 1] = 0x80 | 0x7f;
    expect(() => readHeifHeader(bytes)).toThrow(/ipma names property 127; ipco has \d+/);
  });

  it('refuses an image without an ispe property', () => {
    const bytes = Buffer.from(readHeic('astronaut.heic'));
    bytes.write('xspe', bytes.indexOf(Buffer.from('ispe', 'latin1')), 'latin1');
    expect(() => readHeifHeader(bytes)).toThrow(/item 1 has no ispe \(image size\) property/);
  });

  it('refuses a box that claims to end beyond its parent', () => {
    const bytes = Buffer.from(readHeic('astronaut.heic'));
    const iinf = bytes.indexOf(Buffer.from('iinf', 'latin1')) - 4;
    bytes.writeUInt32BE(100_000, iinf);
    expect(() => readHeifHeader(bytes)).toThrow(/the iinf box at byte \d+ claims 100000 bytes/);
  });

  it('throws only HeifHeaderError, whatever prefix of a real file it is given', () => {
    const file = readHeic('astronaut-irot.heic');
    for (let length = 0; length < 700; length += 7) {
      try {
        readHeifHeader(file.subarray(0, length));
      } catch (error) {
        expect(error, `prefix of ${length} bytes`).toBeInstanceOf(HeifHeaderError);
      }
    }
  });
});

describe('readExifOrientation', () => {
  /** A HEIF EXIF item: 4-byte offset to the TIFF header, then TIFF with one IFD0 entry. */
  function exifItem(order: 'II' | 'MM', orientation: number, skip = 0): Buffer {
    const little = order === 'II';
    const tiff = Buffer.alloc(8 + 2 + 12 + 4);
    tiff.write(order, 0, 'latin1');
    const u16 = (value: number, at: number) => (little ? tiff.writeUInt16LE(value, at) : tiff.writeUInt16BE(value, at));
    const u32 = (value: number, at: number) => (little ? tiff.writeUInt32LE(value, at) : tiff.writeUInt32BE(value, at));
    u16(42, 2);
    u32(8, 4);
    u16(1, 8);
    u16(0x0112, 10);
    u16(3, 12);
    u32(1, 14);
    u16(orientation, 18);
    const offset = Buffer.alloc(4);
    offset.writeUInt32BE(skip, 0);
    return Buffer.concat([offset, Buffer.from('Exif\0\0').subarray(0, skip), tiff]);
  }

  it('reads big- and little-endian TIFF, after the offset the item states', () => {
    expect(readExifOrientation(exifItem('MM', 6))).toBe(6);
    expect(readExifOrientation(exifItem('II', 8))).toBe(8);
    expect(readExifOrientation(exifItem('MM', 3, 6))).toBe(3);
  });

  it('ignores what is not a valid orientation or not TIFF at all', () => {
    expect(readExifOrientation(exifItem('MM', 9))).toBeUndefined();
    expect(readExifOrientation(exifItem('MM', 0))).toBeUndefined();
    expect(readExifOrientation(Buffer.from('\0\0\0\0XX*\0'))).toBeUndefined();
    expect(readExifOrientation(exifItem('MM', 6).subarray(0, 20))).toBeUndefined();
  });
});
