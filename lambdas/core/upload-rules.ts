/**
 * What an upload must be, shared by every side that checks it: the presigned POST policy, the processor, the CLI and
 * the browser sample. Pure constants, safe to bundle into a browser.
 */

/** Uploads larger than this are refused by the POST policy and again by the processor (5 MiB). */
export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;

/** An empty upload is refused by the POST policy's `content-length-range` and by the processor. */
export const MIN_UPLOAD_BYTES = 1;

/**
 * Content types a client may ask for; the policy pins the one chosen, the processor sniffs the bytes anyway (an iPhone
 * photo labelled `image/heic` whose brands say `mif1` only is decoded the same). The CLI and the browser sample offer
 * exactly this list.
 */
export const ACCEPTED_CONTENT_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/tiff',
  'image/heic',
  'image/heif',
] as const;
export type AcceptedContentType = (typeof ACCEPTED_CONTENT_TYPES)[number];

/** Every upload key starts with this prefix; only objects under it trigger the processor. */
export const UPLOAD_PREFIX = 'uploads/';
