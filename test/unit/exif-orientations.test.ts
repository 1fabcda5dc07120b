import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { ImageConfig } from '../../lambdas/core/image-pipeline';
import { prepareImageForDidit } from '../../lambdas/core/image-pipeline';
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
