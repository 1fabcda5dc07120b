/**
 * HEVC-coded HEIF (HEIC) to raw RGB pixels with libheif compiled to WebAssembly (npm `libheif-js`, LGPL-3.0; it
 * carries libde265 for HEVC). sharp's prebuilt libvips has no HEVC decoder, and a WebAssembly build needs no system
 * library in Lambda and runs on arm64 and x86_64 alike.
 *
 * Every decode runs in a new WebAssembly instance, for two reasons found in testing. First, libde265 conceals damaged
 * HEVC data by leaving parts of the picture unwritten, and a reused instance hands back whatever its heap held there:
 * the previous upload's pixels, which would send one user's face to Didit under another user's check. A new instance's
 * memory is zeroed. Second, a WebAssembly heap never shrinks, so a reused one would keep the largest picture it ever
 * decoded; a new one is freed with the decode. V8 compiles the module once per process and reuses the code, so a new
 * instance costs about 10–50 ms (the first one ~100 ms), against 0.5–1 s to decode a 12 MP photo.
 *
 * The library is loaded on the first HEIC, so functions and checks that never see one pay nothing. Decoding is
 * synchronous inside the instance; the caller bounds its work by the pixel count read from the header first, and
 * libheif itself refuses a coded picture larger than the header's `ispe` ("security limit exceeded"), so a small
 * header cannot hide a large picture.
 */

/** libheif refused the file or could not decode it; `message` is libheif's own. */
export class HeicDecodeError extends Error {
  override readonly name = 'HeicDecodeError';
}

export interface DecodedHeic {
  /** Interleaved 8-bit samples, row after row without padding. */
  readonly pixels: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
}

/** The part of libheif-js's embind API used here (the package ships no typings for its entry points). */
interface EnumValue {
  readonly value: number;
}
interface HeifError {
  readonly code: EnumValue;
  readonly message: string;
}
interface Channel {
  readonly id: EnumValue;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  /** A view into the WebAssembly heap: valid only until the image is released. */
  readonly data: Uint8Array;
}
interface DecodedImage {
  readonly image: unknown;
  readonly width: number;
  readonly height: number;
  readonly channels: readonly Channel[];
}
interface LibHeif {
  readonly ready?: Promise<unknown>;
  heif_context_alloc(): unknown;
  heif_context_free(context: unknown): void;
  heif_context_read_from_memory(context: unknown, bytes: Uint8Array): HeifError;
  heif_js_context_get_primary_image_handle(context: unknown): unknown;
  heif_image_handle_has_alpha_channel(handle: unknown): number;
  heif_image_handle_release(handle: unknown): void;
  heif_js_decode_image2(handle: unknown, colorspace: EnumValue, chroma: EnumValue): DecodedImage | HeifError;
  heif_image_release(image: unknown): void;
  readonly heif_colorspace: { readonly heif_colorspace_RGB: EnumValue };
  readonly heif_chroma: {
    readonly heif_chroma_interleaved_RGB: EnumValue;
    readonly heif_chroma_interleaved_RGBA: EnumValue;
  };
  readonly heif_channel: { readonly heif_channel_interleaved: EnumValue };
}

type LibHeifFactory = () => LibHeif;
let factory: Promise<LibHeifFactory> | undefined;

/** A new libheif instance. The build with the WebAssembly binary inlined, so a bundle needs no separate .wasm file. */
async function newLibheif(): Promise<LibHeif> {
  factory ??= import('libheif-js/libheif-wasm/libheif-bundle.js').then(
    (module: { default?: LibHeifFactory } | LibHeifFactory) =>
      typeof module === 'function' ? module : (module.default as LibHeifFactory),
  );
  const lib = (await factory)();
  await lib.ready;
  return lib;
}

function isError(value: unknown): value is HeifError {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value;
}

/**
 * Decodes the primary image with its `irot`/`imir` transformations applied (libheif's default), alpha kept when the
 * image has it. Every libheif object is released before this returns, whatever happens.
 */
export async function decodeHeic(bytes: Uint8Array): Promise<DecodedHeic> {
  const lib = await newLibheif();
  const context = lib.heif_context_alloc();
  if (!context) throw new HeicDecodeError('libheif could not allocate a decoding context');
  let handle: unknown;
  try {
    const read = lib.heif_context_read_from_memory(context, bytes);
    if (read.code.value !== 0) throw new HeicDecodeError(read.message);
    handle = lib.heif_js_context_get_primary_image_handle(context);
    if (!handle || isError(handle)) {
      handle = undefined;
      throw new HeicDecodeError('the file has no readable primary image');
    }
    const channels = lib.heif_image_handle_has_alpha_channel(handle) ? 4 : 3;
    const chroma =
      channels === 4 ? lib.heif_chroma.heif_chroma_interleaved_RGBA : lib.heif_chroma.heif_chroma_interleaved_RGB;
    const decoded = lib.heif_js_decode_image2(handle, lib.heif_colorspace.heif_colorspace_RGB, chroma);
    if (!decoded || isError(decoded)) {
      throw new HeicDecodeError(isError(decoded) ? decoded.message.trim() : 'libheif returned no image');
    }
    try {
      const plane = decoded.channels.find((c) => c.id.value === lib.heif_channel.heif_channel_interleaved.value);
      if (!plane) throw new HeicDecodeError('libheif returned no interleaved RGB plane');
      return { pixels: copyRows(plane, channels), width: plane.width, height: plane.height, channels };
    } finally {
      lib.heif_image_release(decoded.image);
    }
  } finally {
    if (handle) lib.heif_image_handle_release(handle);
    lib.heif_context_free(context);
  }
}

/** Copies the plane out of the WebAssembly heap, dropping any row padding. */
function copyRows(plane: Channel, channels: number): Buffer {
  const row = plane.width * channels;
  if (plane.stride === row) return Buffer.from(plane.data.subarray(0, row * plane.height));
  const pixels = Buffer.allocUnsafe(row * plane.height);
  for (let y = 0; y < plane.height; y += 1) {
    pixels.set(plane.data.subarray(y * plane.stride, y * plane.stride + row), y * row);
  }
  return pixels;
}
