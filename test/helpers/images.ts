import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

/**
 * Test inputs derived at test time from one real photo with sharp itself, so a fresh checkout needs no image tools
 * and no binary fixtures beyond the astronaut. Each is built once per test process.
 */

export const ASTRONAUT_PATH = fileURLToPath(new URL('../fixtures/astronaut.png', import.meta.url));

/** The upright 12 MP photo: a phone held in portrait, 3024 wide and 4032 tall. */
export const PORTRAIT_12MP = { width: 3024, height: 4032 } as const;

const cache = new Map<string, Promise<Buffer>>();

function memo(name: string, make: () => Promise<Buffer>): () => Promise<Buffer> {
  return () => {
    let pending = cache.get(name);
    if (!pending) {
      pending = make();
      cache.set(name, pending);
    }
    return pending;
  };
}

const astronaut = memo('astronaut', () => readFile(ASTRONAUT_PATH));

/** What a phone writes: pixels stored landscape (sensor order) plus EXIF Orientation 6 ("rotate 90° clockwise"). */
export const exifRotated12MpJpeg = memo('exif-rotated-12mp', async () => {
  const upright = await sharp(await astronaut())
    .resize(PORTRAIT_12MP.width, PORTRAIT_12MP.height, { fit: 'cover' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // Turning the upright picture 90° anticlockwise is exactly what Orientation 6 undoes.
  return sharp(upright.data, { raw: upright.info })
    .rotate(270)
    .jpeg({ quality: 92 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
});

/** Larger than the long-edge limit, so the resize runs on the slower progressive decode. */
export const progressiveJpeg = memo('progressive', async () =>
  sharp(await astronaut())
    .resize(2400, 2400)
    .jpeg({ quality: 90, progressive: true })
    .toBuffer(),
);

export const baselineJpeg = memo('baseline', async () =>
  sharp(await astronaut())
    .jpeg({ quality: 90 })
    .toBuffer(),
);

/** The fixture as uploaded: an RGB PNG with an embedded ICC profile. */
export const png = astronaut;

export const webp = memo('webp', async () =>
  sharp(await astronaut())
    .webp({ quality: 90 })
    .toBuffer(),
);

/** The astronaut, then her negative: a pipeline that reads the wrong frame, or all frames, is visible. */
export const animatedWebp = memo('animated-webp', async () => {
  const negative = await sharp(await astronaut())
    .negate()
    .png()
    .toBuffer();
  return sharp([await astronaut(), negative], { join: { animated: true } })
    .webp({ quality: 90, loop: 0, delay: [500, 500] })
    .toBuffer();
});

export const tiff = memo('tiff', async () =>
  sharp(await astronaut())
    .tiff({ compression: 'deflate' })
    .toBuffer(),
);

export const cmykJpeg = memo('cmyk', async () =>
  sharp(await astronaut())
    .toColourspace('cmyk')
    .jpeg({ quality: 90 })
    .toBuffer(),
);

export const png16Bit = memo('png-16', async () =>
  sharp(await astronaut())
    .toColourspace('rgb16')
    .png()
    .toBuffer(),
);

/** Everything a phone might leak: camera EXIF with a GPS block, the ICC profile and an XMP packet. */
export const jpegWithGps = memo('gps', async () =>
  sharp(await astronaut())
    .keepIccProfile()
    .withExif({
      IFD0: { Make: 'TestPhone', Model: 'Leaky 1' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
    })
    .withXmp(
      '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Test</dc:creator>' +
        '</rdf:Description></rdf:RDF></x:xmpmeta>',
    )
    .jpeg({ quality: 90 })
    .toBuffer(),
);

/** A fully transparent RGBA PNG: shows what the flatten paints behind the alpha channel. */
export const transparentPng = memo('transparent', async () =>
  sharp(await astronaut())
    .ensureAlpha(0)
    .png()
    .toBuffer(),
);

/** An upload cut off at 60%: header intact, scan data missing. */
export const truncatedJpeg = memo('truncated', async () => {
  const full = await baselineJpeg();
  return full.subarray(0, Math.floor(full.length * 0.6));
});

/** The JPEG magic survives, the quantisation tables after it are garbage. */
export const corruptHeaderJpeg = memo('corrupt-header', async () => {
  const bytes = Buffer.from(await baselineJpeg());
  bytes.fill(0xaa, 4, 40);
  return bytes;
});

/** Stray bytes before a marker, as some Android cameras write: libjpeg warns but decodes the photo correctly. */
export const jpegWithExtraneousBytes = memo('extraneous', async () => {
  const full = await baselineJpeg();
  const startOfScan = full.indexOf(Buffer.from([0xff, 0xda]));
  return Buffer.concat([full.subarray(0, startOfScan), Buffer.from([0x00, 0x00, 0x00]), full.subarray(startOfScan)]);
});

/** Sensor-noise worst case: no quality setting gets 1600×1600 of it under 500 KB, so the pipeline must shrink. */
export const noisyJpeg = memo('noisy', () =>
  sharp({
    create: {
      width: 1600,
      height: 1600,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 60 },
    },
  })
    .jpeg({ quality: 95 })
    .toBuffer(),
);

export const gif = memo('gif', async () =>
  sharp(await astronaut())
    .resize(64, 64)
    .gif()
    .toBuffer(),
);

export const svg = memo('svg', async () =>
  Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512">\n' +
      '  <rect width="512" height="512" fill="#888"/>\n' +
      '</svg>\n',
  ),
);

export const textFile = memo('text', async () => Buffer.from('This is not a selfie.\nIt is a note.\n'));

/** 48 MP of one colour: tiny on disk, over the 40 MP decode limit. */
export const hugePng = memo('huge', () =>
  sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
    .resize(8000, 6000, { kernel: 'nearest' })
    .toColourspace('b-w')
    .png({ compressionLevel: 1, adaptiveFiltering: false })
    .toBuffer(),
);

export const tinyPng = memo('tiny', async () =>
  sharp(await astronaut())
    .resize(16, 16)
    .png()
    .toBuffer(),
);

/**
 * A greyscale thumbnail as raw bytes: a crude but orientation-sensitive fingerprint of a picture's content.
 * `fit: fill` so inputs of different aspect ratios land on the same grid.
 */
export async function greyThumbnail(image: Buffer, width: number, height: number): Promise<Buffer> {
  return sharp(image).resize(width, height, { fit: 'fill' }).greyscale().raw().toBuffer();
}

/** Mean absolute difference per pixel (0–255) between two thumbnails of the same size. */
export function meanAbsoluteDifference(a: Buffer, b: Buffer): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`thumbnails differ in size: ${a.length} vs ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

/** The upright astronaut at the aspect ratio of `width`×`height`, cropped the way the 12 MP input was. */
export async function astronautThumbnail(width: number, height: number): Promise<Buffer> {
  return sharp(await astronaut())
    .resize(width, height, { fit: 'cover' })
    .greyscale()
    .raw()
    .toBuffer();
}
