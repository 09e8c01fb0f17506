/**
 * Errors of photo preparation, mirroring client_py/photo/errors.py (docs/photos.md 2.2), split by
 * who is at fault (STYLE.md "Errors"):
 *
 * - our own code misused the API (not a Blob, not RGBA pixels, invalid settings): `TypeError` /
 *   `RangeError`, the JavaScript counterparts of Python's TypeError / ValueError;
 * - a photo that cannot be prepared: one `PhotoError` carrying a stable `PhotoErrorCode`, the SAME
 *   strings as Python, which transport code maps to the wire unchanged;
 * - `MetadataLeakError`: our own encoder produced a metadata segment (a bug, never the photo's
 *   fault); the photo is not returned.
 *
 * Messages are fixed strings per code: never image bytes, metadata (GPS), file names or sizes
 * taken from the photo, so they are safe to log and to show.
 */

export const PhotoErrorCode = {
  /** Zero bytes. */
  EMPTY: "photo_empty",
  /** More input bytes than `PhotoSettings.maxInputBytes`. */
  TOO_LARGE: "photo_too_large",
  /** Not a JPEG or PNG file (sniffed from the first bytes, never from a name or MIME type). */
  UNSUPPORTED_FORMAT: "photo_unsupported_format",
  /** The container ends before its end marker (JPEG EOI, PNG IEND). */
  TRUNCATED: "photo_truncated",
  /** The container structure or the compressed pixel data is invalid. */
  CORRUPT: "photo_corrupt",
  /** Declared width x height above `PhotoSettings.maxPixels` (decompression-bomb guard). */
  TOO_MANY_PIXELS: "photo_too_many_pixels",
} as const;

export type PhotoErrorCode = (typeof PhotoErrorCode)[keyof typeof PhotoErrorCode];

const MESSAGES: Readonly<Record<PhotoErrorCode, string>> = {
  photo_empty: "the photo file is empty",
  photo_too_large: "the photo file is larger than allowed",
  photo_unsupported_format: "the photo is not a JPEG or PNG image",
  photo_truncated: "the photo file is incomplete (truncated)",
  photo_corrupt: "the photo file is damaged and cannot be decoded",
  photo_too_many_pixels: "the photo has more pixels than allowed",
};

/** A photo that cannot be prepared. `code` is stable; `message` is a fixed sentence per code. */
export class PhotoError extends Error {
  readonly code: PhotoErrorCode;

  constructor(code: PhotoErrorCode) {
    super(MESSAGES[code]);
    this.name = "PhotoError";
    this.code = code;
  }
}

/**
 * Our own output still carries a metadata segment: a bug, never the photo's fault. The message
 * holds segment NAMES only (e.g. "APP1"), nothing from the photo.
 */
export class MetadataLeakError extends Error {
  constructor(segments: readonly string[]) {
    super(`encoder output carries metadata segments: ${segments.join(", ")}`);
    this.name = "MetadataLeakError";
  }
}

/**
 * The browser could not provide the resources to process a valid photo (canvas allocation or
 * encoding failed, typically out of memory on a small phone). Not the photo's fault and not a
 * bug; Python lets MemoryError propagate in the same situation.
 */
export class PhotoResourceError extends Error {
  constructor(step: "canvas" | "encode") {
    super(step === "canvas" ? "not enough memory to process the photo" : "the browser could not encode the photo");
    this.name = "PhotoResourceError";
  }
}
