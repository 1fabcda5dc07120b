import sharp from 'sharp';
import type { DiditFault } from '../local/didit-simulator';
import { exifRotated12MpJpeg, png, truncatedJpeg } from '../test/helpers/images';

/**
 * What the load uploads: the test set's astronaut in the shapes clients send (derived with sharp at start-up, as the
 * tests do, so a checkout needs no image files), plus a small share of hostile-but-handled inputs so every outcome
 * path — decline, refusal, retries exhausted, retries that recover — runs under concurrency too.
 */

export type Scenario =
  | 'selfie-jpeg'
  | 'png'
  | 'jpeg-12mp-exif6'
  | 'declined'
  | 'truncated-jpeg'
  | 'didit-unreadable'
  | 'didit-2-faults';

/** The terminal state a scenario must end in; anything else is reported as unexpected. */
export type Outcome =
  | 'COMPLETED Approved'
  | 'COMPLETED Declined'
  | 'FAILED CORRUPT_IMAGE'
  | 'FAILED DIDIT_BAD_RESPONSE';

export interface UploadFile {
  readonly label: string;
  readonly mime: string;
  readonly bytes: Buffer;
}

export interface Images {
  readonly selfieJpeg: UploadFile;
  readonly png: UploadFile;
  readonly jpeg12Mp: UploadFile;
  readonly truncatedJpeg: UploadFile;
}

export interface PlannedCheck {
  readonly index: number;
  readonly scenario: Scenario;
  readonly file: UploadFile;
  /** Unique per check (`load:<index>`), so Didit calls can be attributed to a check; `sim:` prefixes steer Didit. */
  readonly vendorData: string;
  readonly expected: Outcome;
  /** Queued in the simulator once this check is uploaded; served to its next requests, whichever checks send them. */
  readonly faults: readonly DiditFault[];
}

/** An app's camera frame: what most clients upload. */
const SELFIE_SIZE = { width: 1080, height: 1440 } as const;

export async function prepareImages(): Promise<Images> {
  const [astronautPng, jpeg12Mp, truncated] = await Promise.all([png(), exifRotated12MpJpeg(), truncatedJpeg()]);
  const selfie = await sharp(astronautPng)
    .resize(SELFIE_SIZE.width, SELFIE_SIZE.height, { fit: 'cover' })
    .jpeg({ quality: 90 })
    .toBuffer();
  return {
    selfieJpeg: { label: `JPEG ${SELFIE_SIZE.width}×${SELFIE_SIZE.height}`, mime: 'image/jpeg', bytes: selfie },
    png: { label: 'PNG (the fixture)', mime: 'image/png', bytes: astronautPng },
    jpeg12Mp: { label: '12 MP JPEG, EXIF orientation 6', mime: 'image/jpeg', bytes: jpeg12Mp },
    truncatedJpeg: { label: 'JPEG cut at 60 %', mime: 'image/jpeg', bytes: truncated },
  };
}

/**
 * Retryable faults that the retry-faults integration test shows recovering; rotated so each kind also runs under
 * concurrency. All answer at once, so a faulted attempt costs no client timeout.
 */
const RECOVERABLE_FAULTS: readonly DiditFault[] = [
  { type: 'status', status: 500 },
  { type: 'reset' },
  { type: 'status', status: 429, retryAfter: '1' },
];

/**
 * The mix, by position: about 4 % truncated, 2.5 % a charged Didit answer that cannot be read (never paid for twice),
 * 2.5 % with two injected faults (a 429 among them: everyone backs off), 4 % declined,
 * the rest rotating through the three well-formed images. Deterministic, so two runs of the same size compare.
 */
export function planCheck(index: number, images: Images): PlannedCheck {
  const tag = `load:${index}`;
  if (index % 25 === 12) {
    return plan(index, 'truncated-jpeg', images.truncatedJpeg, tag, 'FAILED CORRUPT_IMAGE');
  }
  if (index % 40 === 20) {
    // Didit answers 200 with a body that is not JSON: charged, so the check fails at once and is never retried. (A Didit
    // that keeps failing ends a check only past the one-hour failure horizon: the tests cover that, not a load run.)
    return plan(index, 'didit-unreadable', images.selfieJpeg, tag, 'FAILED DIDIT_BAD_RESPONSE', [{ type: 'garbage' }]);
  }
  if (index % 40 === 35) {
    const fault = RECOVERABLE_FAULTS[Math.floor(index / 40) % RECOVERABLE_FAULTS.length] ?? { type: 'reset' };
    return plan(index, 'didit-2-faults', images.selfieJpeg, tag, 'COMPLETED Approved', [fault, fault]);
  }
  if (index % 20 === 7) {
    return plan(index, 'declined', images.png, `sim:declined ${tag}`, 'COMPLETED Declined');
  }
  const rotation = [
    ['selfie-jpeg', images.selfieJpeg],
    ['png', images.png],
    ['jpeg-12mp-exif6', images.jpeg12Mp],
  ] as const;
  const [scenario, file] = rotation[index % rotation.length] ?? rotation[0];
  return plan(index, scenario, file, tag, 'COMPLETED Approved');
}

function plan(
  index: number,
  scenario: Scenario,
  file: UploadFile,
  vendorData: string,
  expected: Outcome,
  faults: readonly DiditFault[] = [],
): PlannedCheck {
  return { index, scenario, file, vendorData, expected, faults };
}

/** The check index a vendor_data belongs to (the inverse of the `load:<index>` tag). */
export function indexOfVendorData(vendorData: string | undefined): number | undefined {
  const match = /load:(\d+)/.exec(vendorData ?? '');
  return match ? Number(match[1]) : undefined;
}
