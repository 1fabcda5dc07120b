import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeHeic } from '../../lambdas/core/heic-decoder';
import { readHeifHeader } from '../../lambdas/core/heif-header';
import type { ImageConfig } from '../../lambdas/core/image-pipeline';
import { prepareImageForDidit } from '../../lambdas/core/image-pipeline';
import { exifTurnedHeic } from '../helpers/heic-images';
import {
  ORIENTATIONS,
  ORIENTED_SIZE,
  type Orientation,
  orientedJpeg,
  uprightThumbnail,
} from '../helpers/hostile-images';
import { greyThumbnail, meanAbsoluteDifference } from '../helpers/images';

// Phones store pixels in sensor order and say how to turn them in EXIF; a face detector scores a sideways or mirrored
// face far lower. All eight orientations must reach Didit upright, with the tag gone (so nothing turns them twice).
const config: ImageConfig = { maxLongEdge: 1920, maxOutputBytes: 500_000, maxInputPixels: 40_000_000 };

/** Measured: the same picture after two JPEG encodes differs by ~2 grey levels; any wrong turn or mirror by 25+. */
const SAME_PICTURE_MAD = 8;
const WRONG_TURN_MAD = 15;

describe('EXIF orientations 1–8 come out upright', () => {
  it('the fixtures are really stored turned: without honouring the tag, 2–8 are not the upright picture', async () => {
    const upright = await uprightThumbnail();
    for (const orientation of ORIENTATIONS) {
      const stored = await sharp(await orientedJpeg(orientation))
        .resize(48, 64, { fit: 'fill' })
        .greyscale()
        .raw()
        .toBuffer();
      const difference = meanAbsoluteDifference(upright, stored);
      if (orientation === 1) expect(difference).toBeLessThan(SAME_PICTURE_MAD);
      else expect(difference, `orientation ${orientation} stored as is`).toBeGreaterThan(WRONG_TURN_MAD);
      expect((await sharp(await orientedJpeg(orientation)).metadata()).orientation).toBe(orientation);
    }
  });

  it.each(ORIENTATIONS)(
    'orientation %i: upright, portrait, no orientation tag left',
    async (orientation: Orientation) => {
      const prepared = await prepareImageForDidit(await orientedJpeg(orientation), config);

      expect({ width: prepared.width, height: prepared.height }).toEqual(ORIENTED_SIZE);
      const meta = await sharp(prepared.jpeg).metadata();
      expect({ width: meta.width, height: meta.height, orientation: meta.orientation, exif: meta.exif }).toEqual({
        ...ORIENTED_SIZE,
        orientation: undefined,
        exif: undefined,
      });
      const difference = meanAbsoluteDifference(await uprightThumbnail(), await greyThumbnail(prepared.jpeg, 48, 64));
      expect(difference).toBeLessThan(SAME_PICTURE_MAD);
    },
  );
});

describe('a HEIC turned by EXIF alone (no irot/imir) turns as a JPEG with the same tag does', () => {
  // The oracle is sharp's own autoOrient on a JPEG of the very pixels the HEIC stores, tagged the same way.
  const storedPixels = memoOnce(async () => {
    const stored = await decodeHeic(exifTurnedHeic(1));
    return sharp(stored.pixels, { raw: stored }).jpeg({ quality: 95 });
  });

  it.each(ORIENTATIONS)('orientation %i', async (orientation: Orientation) => {
    const heic = exifTurnedHeic(orientation);
    expect(readHeifHeader(heic)).toMatchObject({ transformed: false, exifOrientation: orientation });
    const jpeg = await (await storedPixels()).clone().withMetadata({ orientation }).toBuffer();

    const fromHeic = await prepareImageForDidit(heic, config);
    const fromJpeg = await prepareImageForDidit(jpeg, config);

    expect({ width: fromHeic.width, height: fromHeic.height }).toEqual({
      width: fromJpeg.width,
      height: fromJpeg.height,
    });
    const [a, b] = await Promise.all([greyThumbnail(fromHeic.jpeg, 48, 48), greyThumbnail(fromJpeg.jpeg, 48, 48)]);
    expect(meanAbsoluteDifference(a, b)).toBeLessThan(SAME_PICTURE_MAD);
  });

  it('the oracle tells turns apart: orientations 6 and 8 of the same pixels differ', async () => {
    const [six, eight] = await Promise.all(
      [6, 8].map(async (orientation) => {
        const prepared = await prepareImageForDidit(exifTurnedHeic(orientation), config);
        return greyThumbnail(prepared.jpeg, 48, 48);
      }),
    );
    expect(meanAbsoluteDifference(six as Buffer, eight as Buffer)).toBeGreaterThan(WRONG_TURN_MAD);
  });
});

function memoOnce<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= make();
    return pending;
  };
}
