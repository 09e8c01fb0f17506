/**
 * Walk JPEG and PNG containers byte by byte, without decoding pixels: the port of
 * client_py/photo/containers.py, with the same rules and the same error codes.
 *
 * Used three ways:
 * - before decoding: sniff the format from the first bytes, read the declared size (so a
 *   decompression bomb is refused before the browser allocates a single pixel), tell a truncated
 *   file from a corrupt one by structure (a browser decoder fills a truncated JPEG with grey and
 *   reports success), and read the EXIF orientation ourselves to check the browser's result;
 * - after encoding: prove that the canvas output carries no metadata by parsing it
 *   (`metadataSegments`), instead of assuming that the encoder wrote none.
 *
 * Rules (ITU-T T.81 annex B for JPEG, ISO/IEC 15948 / W3C PNG 3rd ed. section 5 for PNG):
 * - JPEG: FF D8 (SOI), then marker segments FF xx + big-endian length (which counts itself) +
 *   payload; any number of FF fill bytes may precede a marker (B.1.1.2). After each SOS header
 *   comes entropy-coded data in which FF 00 is a stuffed byte and FF D0..FF D7 are restart
 *   markers; the next other marker ends it. The file ends at EOI (FF D9). Bytes after EOI are
 *   ignored on input (phones append MPO frames there) and refused on output.
 * - PNG: the 8-byte signature, then chunks length(4) type(4) data crc(4); IHDR first, IEND
 *   last; every chunk's CRC-32 is checked.
 *
 * No DOM: usable in a Web Worker.
 */
import { MetadataLeakError, PhotoError, PhotoErrorCode } from "./errors";

export type ContainerFormat = "jpeg" | "png";

export interface JpegSegment {
  readonly marker: number;
  /** Offset of the first FF of the marker (fill bytes included). */
  readonly offset: number;
  /** Payload without marker and length; for SOS the scan header only. */
  readonly payload: Uint8Array;
}

export interface ContainerInfo {
  readonly format: ContainerFormat;
  /** Declared (stored, not yet oriented) size. */
  readonly width: number;
  readonly height: number;
  /** EXIF orientation 1..8 (1 when absent or unreadable). */
  readonly orientation: number;
}

const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const APP0 = 0xe0;
const APP1 = 0xe1;
const COM = 0xfe;
// SOFn: every C0..CF except DHT (C4), JPG (C8) and DAC (CC) (T.81 table B.1).
const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
// Markers without a length field (T.81 B.1.1.3): TEM, RST0..RST7 (SOI/EOI handled apart).
const STANDALONE = new Set([0x01, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7]);
// Our encoder's output may contain only these (plus the JFIF APP0 checked separately):
// DQT, DHT, DRI, SOF0 (baseline), SOS, RSTn, SOI, EOI.
const OUTPUT_ALLOWED = new Set([0xdb, 0xc4, 0xdd, 0xc0, SOS, SOI, EOI, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7]);
// A JFIF APP0 with no embedded thumbnail: "JFIF\0", version(2), units(1), Xdensity(2),
// Ydensity(2), Xthumbnail(1)=0, Ythumbnail(1)=0 -> 14 payload bytes (JFIF 1.02, section 10).
const JFIF_PAYLOAD_LEN = 14;
const EXIF_PREFIX = Uint8Array.of(0x45, 0x78, 0x69, 0x66, 0, 0); // "Exif\0\0"
const ORIENTATION_TAG = 0x0112;
const TIFF_SHORT = 3;

function fail(code: PhotoErrorCode): never {
  throw new PhotoError(code);
}

function startsWith(data: Uint8Array, prefix: Uint8Array, at = 0): boolean {
  if (data.length - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[at + i] !== prefix[i]) return false;
  return true;
}

function u16(data: Uint8Array, pos: number): number {
  return (data[pos]! << 8) | data[pos + 1]!;
}

function u32(data: Uint8Array, pos: number): number {
  return ((data[pos]! << 24) | (data[pos + 1]! << 16) | (data[pos + 2]! << 8) | data[pos + 3]!) >>> 0;
}

/** Display name of a JPEG marker, as Python's `JpegSegment.name` ("APP1", "COM", "SOF2", ...). */
export function markerName(marker: number): string {
  if (marker >= 0xe0 && marker <= 0xef) return `APP${marker - 0xe0}`;
  if (marker >= 0xd0 && marker <= 0xd7) return `RST${marker - 0xd0}`;
  if (SOF_MARKERS.has(marker)) return `SOF${marker - 0xc0}`;
  const names: Record<number, string> = { 0xd8: "SOI", 0xd9: "EOI", 0xda: "SOS", 0xdb: "DQT", 0xc4: "DHT", 0xdd: "DRI", 0xfe: "COM" };
  return names[marker] ?? `0xFF${marker.toString(16).toUpperCase().padStart(2, "0")}`;
}

/**
 * The container format from the first bytes, or a PhotoError. Never trusts a file name or MIME
 * type. A file shorter than a signature that could still be its start is TRUNCATED; anything
 * else that is not JPEG or PNG (GIF, WebP, HEIC, TIFF, BMP, AVIF, ...) is UNSUPPORTED_FORMAT.
 */
export function sniffFormat(data: Uint8Array): ContainerFormat {
  if (data.length === 0) fail(PhotoErrorCode.EMPTY);
  if (data.length >= 2 && data[0] === 0xff && data[1] === SOI) return "jpeg";
  if (startsWith(data, PNG_SIGNATURE)) return "png";
  if (data.length < PNG_SIGNATURE.length && startsWith(PNG_SIGNATURE, data)) fail(PhotoErrorCode.TRUNCATED);
  if (data.length === 1 && data[0] === 0xff) fail(PhotoErrorCode.TRUNCATED);
  return fail(PhotoErrorCode.UNSUPPORTED_FORMAT);
}

/** Offset of the marker that ends the entropy-coded data starting at `pos`. */
function skipEntropyCoded(data: Uint8Array, pos: number): number {
  for (;;) {
    pos = data.indexOf(0xff, pos); // native scan: fast on multi-megabyte scans
    if (pos < 0 || pos + 1 >= data.length) fail(PhotoErrorCode.TRUNCATED);
    const following = data[pos + 1]!;
    if (following === 0x00 || (following >= 0xd0 && following <= 0xd7)) pos += 2; // stuffed byte / RSTn
    else if (following === 0xff) pos += 1; // fill byte before a marker
    else return pos;
  }
}

/**
 * Walk a JPEG from SOI to EOI and return every marker segment in order. PhotoError TRUNCATED if
 * the data ends before EOI, CORRUPT if the structure is invalid (or, with allowTrailing false,
 * if bytes follow EOI).
 */
export function jpegSegments(data: Uint8Array, allowTrailing = true): JpegSegment[] {
  const size = data.length;
  if (!(size >= 2 && data[0] === 0xff && data[1] === SOI)) fail(PhotoErrorCode.CORRUPT);
  const segments: JpegSegment[] = [{ marker: SOI, offset: 0, payload: new Uint8Array(0) }];
  let pos = 2;
  for (;;) {
    if (pos >= size) fail(PhotoErrorCode.TRUNCATED);
    if (data[pos] !== 0xff) fail(PhotoErrorCode.CORRUPT);
    const start = pos;
    while (pos < size && data[pos] === 0xff) pos++; // fill bytes (T.81 B.1.1.2)
    if (pos >= size) fail(PhotoErrorCode.TRUNCATED);
    const marker = data[pos]!;
    pos++;
    if (marker === EOI) {
      segments.push({ marker, offset: start, payload: new Uint8Array(0) });
      if (!allowTrailing && pos !== size) fail(PhotoErrorCode.CORRUPT);
      return segments;
    }
    if (marker === 0x00 || marker === SOI) fail(PhotoErrorCode.CORRUPT);
    if (STANDALONE.has(marker)) {
      segments.push({ marker, offset: start, payload: new Uint8Array(0) });
      continue;
    }
    if (pos + 2 > size) fail(PhotoErrorCode.TRUNCATED);
    const length = u16(data, pos);
    if (length < 2) fail(PhotoErrorCode.CORRUPT);
    const end = pos + length;
    if (end > size) fail(PhotoErrorCode.TRUNCATED);
    segments.push({ marker, offset: start, payload: data.subarray(pos + 2, end) });
    pos = end;
    if (marker === SOS) pos = skipEntropyCoded(data, pos);
  }
}

// CRC-32 (ISO 3309 / ITU-T V.42, polynomial 0xEDB88320 reflected), as PNG section 5.5 requires.
let crcTable: Uint32Array | undefined;
export function crc32(data: Uint8Array, crc = 0): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function isAsciiLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

interface PngChunk {
  readonly type: string;
  readonly body: Uint8Array;
}

/** Every chunk up to and including IEND, CRCs checked. */
export function pngChunks(data: Uint8Array): PngChunk[] {
  const size = data.length;
  let pos = PNG_SIGNATURE.length;
  const chunks: PngChunk[] = [];
  for (;;) {
    if (pos + 8 > size) fail(PhotoErrorCode.TRUNCATED);
    const length = u32(data, pos);
    const typeBytes = data.subarray(pos + 4, pos + 8);
    if (length > 0x7fffffff || !typeBytes.every(isAsciiLetter)) fail(PhotoErrorCode.CORRUPT);
    const end = pos + 8 + length + 4;
    if (end > size) fail(PhotoErrorCode.TRUNCATED);
    const body = data.subarray(pos + 8, pos + 8 + length);
    if (crc32(data.subarray(pos + 4, pos + 8 + length)) !== u32(data, end - 4)) fail(PhotoErrorCode.CORRUPT);
    const type = String.fromCharCode(...typeBytes);
    if (chunks.length === 0 && (type !== "IHDR" || length !== 13)) fail(PhotoErrorCode.CORRUPT);
    chunks.push({ type, body });
    pos = end;
    if (type === "IEND") return chunks;
  }
}

/**
 * Orientation (tag 0x0112) of IFD0 of a TIFF-structured EXIF block, 1..8. Absent, malformed or
 * out-of-range values give 1 (no transform), as browsers do. `tiff` starts at the byte-order mark
 * (after the "Exif\0\0" prefix of a JPEG APP1; a PNG eXIf chunk holds it directly).
 */
export function exifOrientation(tiff: Uint8Array): number {
  if (tiff.length < 8) return 1;
  let little: boolean;
  if (tiff[0] === 0x49 && tiff[1] === 0x49) little = true; // "II"
  else if (tiff[0] === 0x4d && tiff[1] === 0x4d) little = false; // "MM"
  else return 1;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const magic = view.getUint16(2, little);
  const ifd = view.getUint32(4, little);
  if (magic !== 42 || ifd + 2 > tiff.length) return 1;
  const count = view.getUint16(ifd, little);
  for (let index = 0; index < count; index++) {
    const entry = ifd + 2 + 12 * index;
    if (entry + 12 > tiff.length) return 1;
    const tag = view.getUint16(entry, little);
    if (tag === ORIENTATION_TAG) {
      const kind = view.getUint16(entry + 2, little);
      const number = view.getUint32(entry + 4, little);
      if (kind !== TIFF_SHORT || number !== 1) return 1;
      const value = view.getUint16(entry + 8, little);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

function parseJpeg(data: Uint8Array): ContainerInfo {
  let width = 0;
  let height = 0;
  let orientation = 1;
  let seenExif = false;
  for (const segment of jpegSegments(data)) {
    if (SOF_MARKERS.has(segment.marker) && width === 0) {
      // SOF payload: P(1) Y(2) X(2) Nf(1) ... (T.81 B.2.2); Y = 0 (height defined later by a DNL
      // marker) is legal but unsupported by the decoders we rely on: refuse it.
      if (segment.payload.length < 6) fail(PhotoErrorCode.CORRUPT);
      height = u16(segment.payload, 1);
      width = u16(segment.payload, 3);
      if (width === 0 || height === 0) fail(PhotoErrorCode.CORRUPT);
    } else if (segment.marker === APP1 && !seenExif && startsWith(segment.payload, EXIF_PREFIX)) {
      seenExif = true; // only the first Exif APP1 counts (CIPA DC-008 4.5.4)
      orientation = exifOrientation(segment.payload.subarray(EXIF_PREFIX.length));
    } else if (segment.marker === SOS && width === 0) {
      fail(PhotoErrorCode.CORRUPT); // scan before any frame header
    }
  }
  if (width === 0) fail(PhotoErrorCode.CORRUPT);
  return { format: "jpeg", width, height, orientation };
}

function parsePng(data: Uint8Array): ContainerInfo {
  const chunks = pngChunks(data);
  const ihdr = chunks[0]!.body;
  const width = u32(ihdr, 0);
  const height = u32(ihdr, 4);
  if (!(width > 0 && width <= 0x7fffffff && height > 0 && height <= 0x7fffffff)) fail(PhotoErrorCode.CORRUPT);
  if (!chunks.some((c) => c.type === "IDAT")) fail(PhotoErrorCode.CORRUPT);
  const exif = chunks.find((c) => c.type === "eXIf");
  return { format: "png", width, height, orientation: exif === undefined ? 1 : exifOrientation(exif.body) };
}

/** Sniff, walk and check the structure of a JPEG or PNG; PhotoError on failure. */
export function parseContainer(data: Uint8Array): ContainerInfo {
  return sniffFormat(data) === "jpeg" ? parseJpeg(data) : parsePng(data);
}

/**
 * Names of everything in a JPEG that our encoder must not produce; [] when clean. Clean means:
 * only SOI, one JFIF APP0 without thumbnail, DQT, DHT, DRI, SOF0, SOS, RSTn, EOI, and nothing
 * after EOI. Every APPn other than that APP0 (EXIF and GPS in APP1, XMP in APP1, ICC in APP2,
 * IPTC in APP13, Adobe in APP14, ...), every COM and every unknown marker is reported. PhotoError
 * if the data is not a well-formed JPEG.
 */
export function metadataSegments(data: Uint8Array): string[] {
  const found: string[] = [];
  let jfif = 0;
  for (const segment of jpegSegments(data, false)) {
    if (segment.marker === APP0) {
      const p = segment.payload;
      const ok = p.length === JFIF_PAYLOAD_LEN && startsWith(p, Uint8Array.of(0x4a, 0x46, 0x49, 0x46, 0)) && p[12] === 0 && p[13] === 0;
      // One JFIF APP0 is the encoder's own header; a second one, or any other APP0 (JFXX
      // thumbnail, JFIF with an embedded thumbnail, vendor data), is not.
      if (ok) jfif++;
      if (!ok || jfif > 1) found.push("APP0");
    } else if (segment.marker === COM) {
      found.push("COM");
    } else if (!OUTPUT_ALLOWED.has(segment.marker)) {
      found.push(markerName(segment.marker));
    }
  }
  return found;
}

const ICC_PREFIX = Uint8Array.of(0x49, 0x43, 0x43, 0x5f, 0x50, 0x52, 0x4f, 0x46, 0x49, 0x4c, 0x45, 0); // "ICC_PROFILE\0"

/**
 * A copy of a JPEG without its ICC profile segments (APP2 "ICC_PROFILE\0", ICC.1 annex B.4),
 * every other byte kept in order. Why: Chrome's canvas encoder always embeds its sRGB profile
 * (470 bytes) and the canvas API cannot turn that off. The pixels are sRGB already, and a JPEG
 * without a profile is read as sRGB by every viewer, so dropping it changes no colour; Python's
 * output has no profile either (docs/photos.md 3). Only this one segment kind is removed: the
 * result must still pass metadataSegments, so anything else unexpected still refuses the photo.
 */
export function stripIccProfile(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const segments = jpegSegments(data, false);
  const parts: Uint8Array[] = [];
  let length = 0;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.marker === 0xe2 && startsWith(segment.payload, ICC_PREFIX)) continue;
    // A segment's bytes run to the next segment's first byte (for SOS: header + entropy data).
    const end = i + 1 < segments.length ? segments[i + 1]!.offset : data.length;
    const part = data.subarray(segment.offset, end);
    parts.push(part);
    length += part.length;
  }
  const out = new Uint8Array(length);
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

/** Throw MetadataLeakError unless `data` is a clean JPEG (see metadataSegments). */
export function assertNoMetadata(data: Uint8Array): void {
  const leaks = metadataSegments(data);
  if (leaks.length > 0) throw new MetadataLeakError(leaks);
}
