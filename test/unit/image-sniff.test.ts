import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sniffImageType } from '../../lambdas/core/image-sniff';
import * as images from '../helpers/images';

function bytes(...parts: (string | number[])[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
}

/** An ISO base media `ftyp` box: size, "ftyp", major brand, minor version, compatible brands. */
function ftyp(major: string, ...compatible: string[]): Buffer {
  const size = 16 + 4 * compatible.length;
  return bytes([0, 0, 0, size], 'ftyp', major, [0, 0, 0, 0], compatible.join(''), [0, 0, 0, 0x20], 'meta');
}

describe('sniffImageType', () => {
  describe('supported formats, from files sharp wrote', () => {
    it.each([
      ['baseline JPEG', 'jpeg', images.baselineJpeg],
      ['progressive JPEG', 'jpeg', images.progressiveJpeg],
      ['CMYK JPEG', 'jpeg', images.cmykJpeg],
      ['PNG', 'png', images.png],
      ['16-bit PNG', 'png', images.png16Bit],
      ['WebP', 'webp', images.webp],
      ['animated WebP', 'webp', images.animatedWebp],
      ['little-endian TIFF', 'tiff', images.tiff],
    ] as const)('%s → %s', async (_name, type, make) => {
      expect(sniffImageType(await make())).toEqual({ supported: true, type });
    });

    it.each([
      ['major brand heic (an iPhone photo)', 'heic', ftyp('heic', 'mif1', 'heic')],
      ['major brand heix (10-bit)', 'heic', ftyp('heix', 'mif1', 'heix')],
      ['major brand hevc (an image sequence)', 'heic', ftyp('hevc', 'msf1', 'hevc')],
      ['major brand heim (multi-layer)', 'heic', ftyp('heim', 'mif1')],
      ['major brand heis (scalable)', 'heic', ftyp('heis', 'mif1')],
      ['major brand mif1, compatible heic', 'heic', ftyp('mif1', 'mif1', 'heic')],
      ['mif1 only (codec named in the header)', 'heif', ftyp('mif1', 'mif1', 'miaf')],
      ['msf1 only (a sequence, codec named in the header)', 'heif', ftyp('msf1', 'msf1')],
    ] as const)('HEIF %s → %s', (_name, type, input) => {
      expect(sniffImageType(input)).toEqual({ supported: true, type });
    });

    it('recognises a big-endian TIFF (MM\\0*)', () => {
      expect(sniffImageType(bytes('MM', [0x00, 0x2a, 0, 0, 0, 8]))).toEqual({ supported: true, type: 'tiff' });
    });

    it('looks at the bytes only, so a sliced view of a larger buffer sniffs the same', async () => {
      const jpeg = await images.baselineJpeg();
      const view = new Uint8Array(Buffer.concat([Buffer.from('junk'), jpeg]).buffer, 4, jpeg.length);
      expect(sniffImageType(view)).toEqual({ supported: true, type: 'jpeg' });
    });
  });

  describe('recognised but unsupported formats', () => {
    it.each([
      ['GIF89a from sharp', 'gif', images.gif],
      ['SVG with an XML prolog', 'svg', images.svg],
      ['a text file', 'text', images.textFile],
      ['AVIF from sharp', 'avif', () => sharp(images.ASTRONAUT_PATH).resize(16, 16).avif().toBuffer()],
    ] as const)('%s → %s', async (_name, type, make) => {
      expect(sniffImageType(await make())).toEqual({ supported: false, type });
    });

    it.each([
      ['GIF87a', 'gif', bytes('GIF87a', [1, 0, 1, 0])],
      ['AVIF (major brand avif)', 'avif', ftyp('avif', 'mif1', 'miaf')],
      ['AVIF (major brand mif1, compatible avif)', 'avif', ftyp('mif1', 'avif', 'mif1')],
      ['bare SVG', 'svg', bytes('  <svg xmlns="http://www.w3.org/2000/svg"/>')],
      [
        'SVG behind a doctype and a BOM',
        'svg',
        bytes([0xef, 0xbb, 0xbf], '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN">\n<svg/>'),
      ],
      ['XML', 'xml', bytes('<?xml version="1.0"?><note>hi</note>')],
      ['HTML', 'html', bytes('<!DOCTYPE html><html><body><img src="x.jpg"></body></html>')],
      ['PDF', 'pdf', bytes('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n')],
      ['BMP', 'bmp', bytes('BM', [0x46, 0, 0, 0], [0, 0, 0, 0], [0x36, 0, 0, 0], [0x28, 0, 0, 0])],
      ['text that starts with BM', 'text', bytes('BMW is a car, not a bitmap')],
    ] as const)('%s → %s', (_name, type, input) => {
      expect(sniffImageType(input)).toEqual({ supported: false, type });
    });
  });

  describe('unknown data', () => {
    it.each([
      ['empty', bytes()],
      ['a JPEG signature cut short', bytes([0xff, 0xd8])],
      ['a PNG signature with one wrong byte', bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0b])],
      ['RIFF that is not WebP (WAVE)', bytes('RIFF', [0x24, 0, 0, 0], 'WAVEfmt ')],
      ['an MP4 video (ftyp isom)', ftyp('isom', 'isom', 'mp41')],
      ['random binary', bytes([0x00, 0x13, 0x37, 0x42, 0x99, 0x01, 0x02, 0x03])],
    ])('%s → unknown', (_name, input) => {
      expect(sniffImageType(input)).toEqual({ supported: false, type: 'unknown' });
    });
  });
});
