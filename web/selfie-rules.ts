// What a photo must be before the page spends a request on it. None of these rules is written here: they are the
// service's own (lambdas/core), imported and bundled into the page, so the page refuses exactly what the presigned
// POST and the processor would refuse — only sooner, and with a message a person can act on.

import { IMAGE_TYPE_NAMES, sniffImageType } from '../lambdas/core/image-sniff';
import {
  ACCEPTED_CONTENT_TYPES,
  type AcceptedContentType,
  MAX_UPLOAD_BYTES,
  MIN_UPLOAD_BYTES,
} from '../lambdas/core/upload-rules';

export type SelfieCheck =
  | { readonly ok: true; readonly contentType: AcceptedContentType }
  | { readonly ok: false; readonly problem: string };

/** The file picker's `accept`: the content types the API takes, so a newly accepted type is offered with no edit here. */
export const FILE_INPUT_ACCEPT = ACCEPTED_CONTENT_TYPES.join(',');

/** "JPEG, PNG, WebP or TIFF", from the same list. */
export const ACCEPTED_TYPE_NAMES = listInWords(ACCEPTED_CONTENT_TYPES.map(typeName));

/** What the picker's label says is accepted, e.g. "JPEG, PNG, WebP or TIFF, up to 5 MiB". */
export const ACCEPTED_FILES_HINT = `${ACCEPTED_TYPE_NAMES}, up to ${MAX_UPLOAD_BYTES / (1024 * 1024)} MiB`;

/**
 * The size is checked before the bytes are read, so a video picked by mistake is never loaded into memory. An
 * oversize photo costs neither a check nor an upload: the presigned POST's content-length-range would refuse it.
 */
export async function checkSelfie(photo: Blob): Promise<SelfieCheck> {
  const problem = sizeProblem(photo.size);
  if (problem) return { ok: false, problem };
  return checkContent(new Uint8Array(await photo.arrayBuffer()));
}

export function sizeProblem(bytes: number): string | undefined {
  if (bytes < MIN_UPLOAD_BYTES) return `The photo is empty (${formatBytes(bytes)}). Choose another one.`;
  if (bytes > MAX_UPLOAD_BYTES) {
    return `The photo is ${formatBytes(bytes)}; the limit is ${formatBytes(MAX_UPLOAD_BYTES)}. Choose a smaller photo (the service downsizes to 1920 px anyway) or use the camera.`;
  }
  return undefined;
}

/**
 * The presigned POST pins the content type, so it has to be what the bytes are, not what the file name claims. The
 * bytes are sniffed with the processor's own function (a PNG needs its whole 8-byte signature, for instance), and the
 * type it finds must be one the API accepts: `image/<type>`, so a format added to both lists needs nothing here.
 */
export function checkContent(bytes: Uint8Array): SelfieCheck {
  const sniffed = sniffImageType(bytes);
  const contentType = `image/${sniffed.type}`;
  if (sniffed.supported && isAcceptedContentType(contentType)) return { ok: true, contentType };
  return {
    ok: false,
    problem: `That file is not a ${ACCEPTED_TYPE_NAMES} image (its content looks like ${IMAGE_TYPE_NAMES[sniffed.type]}). Convert it to one of those first.`,
  };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}

function isAcceptedContentType(value: string): value is AcceptedContentType {
  return (ACCEPTED_CONTENT_TYPES as readonly string[]).includes(value);
}

/** `image/webp` → "WebP": the sniffer's names for the formats it knows, else the subtype in capitals. */
function typeName(contentType: string): string {
  const subtype = contentType.replace(/^image\//, '');
  return Object.hasOwn(IMAGE_TYPE_NAMES, subtype)
    ? IMAGE_TYPE_NAMES[subtype as keyof typeof IMAGE_TYPE_NAMES]
    : subtype.toUpperCase();
}

function listInWords(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
