/**
 * Reads what the pipeline must know about a HEIF/HEIC file before anything decodes it: which codec its primary image
 * is coded with, how many pixels decoding it would produce (the decompression-bomb guard runs on this, from the `ispe`
 * properties, before a single pixel is decoded), and how it is meant to be turned (`irot`/`imir` properties, or the
 * EXIF orientation when a producer wrote only that). Pure: bytes in, a description or a HeifHeaderError out.
 *
 * HEIF (ISO/IEC 23008-12) is an ISO base media file: `ftyp`, then a `meta` box whose children name the items
 * (`iinf`), the primary one (`pitm`), where each item's bytes are (`iloc`), how items refer to each other (`iref`: a
 * grid's tiles, the EXIF block's image) and the properties of each (`iprp` = `ipco` list + `ipma` associations).
 *
 * Over the house limit of ~300 lines: those boxes only make sense together (the primary item's properties need
 * `pitm`, `ipma` and `ipco`; its pixels need `iloc` and `iref`), so the reader of one format stays in one file.
 */

/** A malformed or incomplete HEIF structure; the message says which box. */
export class HeifHeaderError extends Error {
  override readonly name = 'HeifHeaderError';
}

/** The codec the primary image (a grid's tiles) is coded with. Only HEVC is decoded here. */
export type HeifCodec = 'hevc' | 'av1' | 'jpeg' | 'avc' | 'vvc' | 'uncompressed' | 'other';

export interface HeifHeader {
  readonly codec: HeifCodec;
  /** The item type, e.g. `hvc1` or `grid`, for messages. */
  readonly primaryItemType: string;
  /** The primary image's size as stored (`ispe`), before `irot`/`imir`. */
  readonly width: number;
  readonly height: number;
  /** Pixels the decoder produces: the image itself, or every tile of a grid. */
  readonly decodedPixels: number;
  /** The primary image carries `irot` or `imir`: libheif applies them while decoding. */
  readonly transformed: boolean;
  /** EXIF Orientation (1–8) of the EXIF block describing the primary image, if there is one. */
  readonly exifOrientation: number | undefined;
}

const CODEC_OF_ITEM_TYPE: Readonly<Record<string, HeifCodec>> = {
  hvc1: 'hevc',
  av01: 'av1',
  jpeg: 'jpeg',
  avc1: 'avc',
  vvc1: 'vvc',
  unci: 'uncompressed',
};
/** Derived images whose pixels come from other items. A grid's tiles must all be coded images. */
const GRID = 'grid';
/** A grid has at most 256 × 256 tiles by its 8-bit row/column counts. */
const MAX_GRID_TILES = 256 * 256;

interface Box {
  readonly type: string;
  /** Content after the header (and after version/flags for a full box, which the reader takes itself). */
  readonly start: number;
  readonly end: number;
}

interface ItemLocation {
  readonly constructionMethod: number;
  readonly baseOffset: number;
  readonly extents: readonly { readonly offset: number; readonly length: number }[];
}

export function readHeifHeader(bytes: Uint8Array): HeifHeader {
  const reader = new Reader(bytes);
  const top = reader.children(0, bytes.length);
  const meta = top.find((box) => box.type === 'meta');
  if (!meta) throw new HeifHeaderError('no meta box: the file holds no image description');
  const metaChildren = reader.children(meta.start + 4, meta.end);
  const child = (type: string): Box | undefined => metaChildren.find((box) => box.type === type);
  const required = (type: string): Box => {
    const box = child(type);
    if (!box) throw new HeifHeaderError(`no ${type} box in meta`);
    return box;
  };

  const primary = readPrimaryItem(reader, required('pitm'));
  const itemTypes = readItemTypes(reader, required('iinf'));
  const references = readReferences(reader, child('iref'));
  const properties = readProperties(reader, required('iprp'));

  const primaryItemType = itemTypes.get(primary);
  if (primaryItemType === undefined) throw new HeifHeaderError(`the primary item ${primary} is not described in iinf`);
  const primarySize = properties.size(primary);

  let codec: HeifCodec;
  let decodedPixels: number;
  if (primaryItemType === GRID) {
    const tiles = references.get(`dimg:${primary}`) ?? [];
    if (tiles.length === 0) throw new HeifHeaderError('the grid image names no tiles');
    if (tiles.length > MAX_GRID_TILES) throw new HeifHeaderError(`the grid names ${tiles.length} tiles`);
    const tileTypes = new Set(tiles.map((tile) => itemTypes.get(tile)));
    if (tileTypes.size !== 1) throw new HeifHeaderError('the grid tiles are not all of one coded type');
    codec = codecOf([...tileTypes][0]);
    decodedPixels = tiles.reduce((sum, tile) => {
      const size = properties.size(tile);
      return sum + size.width * size.height;
    }, 0);
  } else {
    codec = codecOf(primaryItemType);
    decodedPixels = primarySize.width * primarySize.height;
  }

  const transformed = properties.of(primary).some((property) => property === 'irot' || property === 'imir');
  const exifItem = [...itemTypes].find(
    ([item, type]) => type === 'Exif' && (references.get(`cdsc:${item}`) ?? [primary]).includes(primary),
  )?.[0];
  let exifOrientation: number | undefined;
  if (exifItem !== undefined) {
    const location = readLocations(reader, required('iloc')).get(exifItem);
    const data = location ? itemData(reader, location, child('idat')) : undefined;
    exifOrientation = data ? readExifOrientation(data) : undefined;
  }

  return {
    codec,
    primaryItemType,
    width: primarySize.width,
    height: primarySize.height,
    decodedPixels,
    transformed,
    exifOrientation,
  };
}

function codecOf(itemType: string | undefined): HeifCodec {
  return (itemType !== undefined && CODEC_OF_ITEM_TYPE[itemType]) || 'other';
}

function readPrimaryItem(reader: Reader, pitm: Box): number {
  const { version } = reader.fullBox(pitm);
  return version === 0 ? reader.u16(pitm.start + 4) : reader.u32(pitm.start + 4);
}

/** item id → item type (`hvc1`, `grid`, `Exif`, …), from the `infe` entries of version 2 and 3. */
function readItemTypes(reader: Reader, iinf: Box): Map<number, string> {
  const { version } = reader.fullBox(iinf);
  const first = iinf.start + 4 + (version === 0 ? 2 : 4);
  const types = new Map<number, string>();
  for (const infe of reader.children(first, iinf.end)) {
    if (infe.type !== 'infe') continue;
    const entry = reader.fullBox(infe);
    if (entry.version < 2) continue; // versions 0 and 1 carry no item type and never describe images
    const at = infe.start + 4;
    const item = entry.version === 2 ? reader.u16(at) : reader.u32(at);
    const typeAt = at + (entry.version === 2 ? 2 : 4) + 2;
    types.set(item, reader.fourcc(typeAt));
  }
  return types;
}

/** `<reference type>:<from item>` → to items, e.g. `dimg:49` → the 48 tiles of the grid item 49. */
function readReferences(reader: Reader, iref: Box | undefined): Map<string, number[]> {
  const references = new Map<string, number[]>();
  if (!iref) return references;
  const { version } = reader.fullBox(iref);
  const idSize = version === 0 ? 2 : 4;
  const id = (at: number) => (idSize === 2 ? reader.u16(at) : reader.u32(at));
  for (const reference of reader.children(iref.start + 4, iref.end)) {
    let at = reference.start;
    const from = id(at);
    const count = reader.u16(at + idSize);
    at += idSize + 2;
    if (at + count * idSize > reference.end)
      throw new HeifHeaderError(`the ${reference.type} reference overruns its box`);
    const to: number[] = [];
    for (let i = 0; i < count; i += 1) to.push(id(at + i * idSize));
    // One `cdsc` per described item is the norm; several from one item are merged.
    const key = `${reference.type}:${from}`;
    references.set(key, [...(references.get(key) ?? []), ...to]);
  }
  return references;
}

interface Properties {
  /** Property box types associated with an item, in association order. */
  of(item: number): string[];
  /** The item's `ispe` (stored width and height); every image item must have one. */
  size(item: number): { width: number; height: number };
}

function readProperties(reader: Reader, iprp: Box): Properties {
  const children = reader.children(iprp.start, iprp.end);
  const ipco = children.find((box) => box.type === 'ipco');
  if (!ipco) throw new HeifHeaderError('no ipco box in iprp');
  const boxes = reader.children(ipco.start, ipco.end);

  const associations = new Map<number, number[]>();
  for (const ipma of children.filter((box) => box.type === 'ipma')) {
    const { version, flags } = reader.fullBox(ipma);
    let at = ipma.start + 4;
    const entries = reader.u32(at);
    at += 4;
    for (let entry = 0; entry < entries; entry += 1) {
      const item = version < 1 ? reader.u16(at) : reader.u32(at);
      at += version < 1 ? 2 : 4;
      const count = reader.u8(at);
      at += 1;
      const indices = associations.get(item) ?? [];
      for (let i = 0; i < count; i += 1) {
        // Index 0 means "no property"; indices are 1-based into ipco. The top bit is the "essential" flag.
        const index = flags & 1 ? reader.u16(at) & 0x7fff : reader.u8(at) & 0x7f;
        at += flags & 1 ? 2 : 1;
        if (index > boxes.length) throw new HeifHeaderError(`ipma names property ${index}; ipco has ${boxes.length}`);
        if (index > 0) indices.push(index);
      }
      associations.set(item, indices);
    }
    if (at > ipma.end) throw new HeifHeaderError('ipma overruns its box');
  }

  const boxesOf = (item: number): Box[] => (associations.get(item) ?? []).map((index) => boxes[index - 1] as Box);
  return {
    of: (item) => boxesOf(item).map((box) => box.type),
    size(item) {
      const ispe = boxesOf(item).find((box) => box.type === 'ispe');
      if (!ispe) throw new HeifHeaderError(`item ${item} has no ispe (image size) property`);
      reader.fullBox(ispe);
      const width = reader.u32(ispe.start + 4);
      const height = reader.u32(ispe.start + 8);
      if (width === 0 || height === 0) throw new HeifHeaderError(`item ${item} has an empty image size`);
      return { width, height };
    },
  };
}

function readLocations(reader: Reader, iloc: Box): Map<number, ItemLocation> {
  const { version } = reader.fullBox(iloc);
  if (version > 2) throw new HeifHeaderError(`iloc version ${version} is unknown`);
  let at = iloc.start + 4;
  const sizes = reader.u8(at);
  const more = reader.u8(at + 1);
  at += 2;
  const offsetSize = sizes >> 4;
  const lengthSize = sizes & 0xf;
  const baseOffsetSize = more >> 4;
  const indexSize = version === 0 ? 0 : more & 0xf;
  const count = version < 2 ? reader.u16(at) : reader.u32(at);
  at += version < 2 ? 2 : 4;
  const locations = new Map<number, ItemLocation>();
  for (let i = 0; i < count; i += 1) {
    const item = version < 2 ? reader.u16(at) : reader.u32(at);
    at += version < 2 ? 2 : 4;
    let constructionMethod = 0;
    if (version > 0) {
      constructionMethod = reader.u16(at) & 0xf;
      at += 2;
    }
    at += 2; // data_reference_index: 0 = this file
    const baseOffset = reader.uint(at, baseOffsetSize);
    at += baseOffsetSize;
    const extentCount = reader.u16(at);
    at += 2;
    const extents: { offset: number; length: number }[] = [];
    for (let e = 0; e < extentCount; e += 1) {
      at += indexSize;
      const offset = reader.uint(at, offsetSize);
      at += offsetSize;
      const length = reader.uint(at, lengthSize);
      at += lengthSize;
      extents.push({ offset, length });
    }
    locations.set(item, { constructionMethod, baseOffset, extents });
  }
  if (at > iloc.end) throw new HeifHeaderError('iloc overruns its box');
  return locations;
}

/** An item's bytes (file offsets, or offsets into `idat`), or undefined when they are not in this file. */
function itemData(reader: Reader, location: ItemLocation, idat: Box | undefined): Uint8Array | undefined {
  if (location.constructionMethod > 1) return undefined;
  const origin = location.constructionMethod === 1 ? idat?.start : 0;
  if (origin === undefined) return undefined;
  const parts: Uint8Array[] = [];
  for (const extent of location.extents) {
    const start = origin + location.baseOffset + extent.offset;
    parts.push(reader.slice(start, start + extent.length));
  }
  if (parts.length === 1) return parts[0];
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/**
 * The Orientation tag (0x0112) of IFD0 in a HEIF EXIF item: a 4-byte offset to the TIFF header, then TIFF. A block
 * that cannot be read is ignored (undefined): EXIF is advisory here, the pixels are what matter.
 */
export function readExifOrientation(item: Uint8Array): number | undefined {
  if (item.length < 4) return undefined;
  const view = new DataView(item.buffer, item.byteOffset, item.byteLength);
  const tiff = 4 + view.getUint32(0);
  if (tiff + 8 > item.length) return undefined;
  const order = String.fromCharCode(item[tiff] ?? 0, item[tiff + 1] ?? 0);
  if (order !== 'II' && order !== 'MM') return undefined;
  const little = order === 'II';
  const u16 = (at: number) => view.getUint16(at, little);
  const u32 = (at: number) => view.getUint32(at, little);
  if (u16(tiff + 2) !== 42) return undefined;
  const ifd = tiff + u32(tiff + 4);
  if (ifd + 2 > item.length) return undefined;
  const entries = u16(ifd);
  for (let i = 0; i < entries; i += 1) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > item.length) return undefined;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? value : undefined;
    }
  }
  return undefined;
}

/** Bounds-checked big-endian reads; any read past the end is a HeifHeaderError, never a RangeError. */
class Reader {
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(at: number, length: number): void {
    if (at < 0 || at + length > this.bytes.length) {
      throw new HeifHeaderError(
        `the file ends at byte ${this.bytes.length}, inside a box that needs byte ${at + length}`,
      );
    }
  }

  u8(at: number): number {
    this.need(at, 1);
    return this.view.getUint8(at);
  }

  u16(at: number): number {
    this.need(at, 2);
    return this.view.getUint16(at);
  }

  u32(at: number): number {
    this.need(at, 4);
    return this.view.getUint32(at);
  }

  /** An unsigned integer of 0, 4 or 8 bytes (iloc's field sizes); 8-byte values must fit a double exactly. */
  uint(at: number, size: number): number {
    if (size === 0) return 0;
    if (size === 4) return this.u32(at);
    if (size === 8) {
      const value = this.u32(at) * 2 ** 32 + this.u32(at + 4);
      if (!Number.isSafeInteger(value)) throw new HeifHeaderError('an iloc offset is too large');
      return value;
    }
    throw new HeifHeaderError(`iloc uses a ${size}-byte field size`);
  }

  fourcc(at: number): string {
    this.need(at, 4);
    return String.fromCharCode(...this.bytes.subarray(at, at + 4));
  }

  slice(start: number, end: number): Uint8Array {
    this.need(start, end - start);
    return this.bytes.subarray(start, end);
  }

  fullBox(box: Box): { version: number; flags: number } {
    if (box.start + 4 > box.end) throw new HeifHeaderError(`the ${box.type} box is too short`);
    const word = this.u32(box.start);
    return { version: word >>> 24, flags: word & 0xffffff };
  }

  /** The boxes laid end to end in [start, end): each must fit inside it. */
  children(start: number, end: number): Box[] {
    const boxes: Box[] = [];
    let at = start;
    while (at + 8 <= end) {
      let size = this.u32(at);
      const type = this.fourcc(at + 4);
      let header = 8;
      if (size === 1) {
        size = this.uint(at + 8, 8);
        header = 16;
      } else if (size === 0) {
        size = end - at; // "to the end of the file"
      }
      if (size < header || at + size > end) {
        throw new HeifHeaderError(`the ${type} box at byte ${at} claims ${size} bytes; only ${end - at} are there`);
      }
      boxes.push({ type, start: at + header, end: at + size });
      at += size;
    }
    return boxes;
  }
}
