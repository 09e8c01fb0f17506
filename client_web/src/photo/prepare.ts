/**
 * Prepare a clinical photo for encryption in the browser: check, decode, orient, strip, cap,
 * re-encode, thumbnail and quality report. The canvas port of client_py/photo/prepare.py and
 * decode.py (docs/photos.md); what must agree with Python is what the dermatologist and the
 * quality check depend on: upright, sRGB, no metadata, same pixel sizes, same verdicts.
 *
 * Order of checks (each refuses with one PhotoError code before any later step runs, as Python):
 * 1. EMPTY for zero bytes, TOO_LARGE above maxInputBytes (from Blob.size, before reading);
 * 2. format sniffed from the first bytes, else UNSUPPORTED_FORMAT (HEIC, WebP, AVIF, GIF, ...
 *    are refused by decision even where the browser could decode them: docs/photos.md 2.3);
 * 3. the whole container structure is walked (containers.ts): TRUNCATED / CORRUPT;
 * 4. declared width x height above maxPixels: TOO_MANY_PIXELS, before the browser allocates
 *    anything (the decoder is never handed a bomb);
 * 5. createImageBitmap decodes (EXIF orientation applied, colours converted to sRGB); a decoder
 *    failure, or a decoded size that is not the declared one, is CORRUPT.
 *
 * Pixels: the bitmap is drawn on a canvas filled white first, so transparency flattens onto white
 * as Pillow's paste does (a JPEG export of a transparent canvas would be black in Chrome). The
 * quality report is computed on those upright full-resolution pixels (before the cap), like
 * Python. Output: re-encoding through the canvas builds a new file from pixels only. Chrome's
 * encoder adds its own sRGB ICC profile (APP2), which is removed (stripIccProfile); then every
 * output is re-parsed (metadataSegments) before it is returned, and any segment other than SOI,
 * JFIF APP0, DQT, DHT, DRI, SOF0, SOS, RSTn, EOI raises MetadataLeakError instead.
 *
 * Uses only createImageBitmap and OffscreenCanvas (no document), so it runs in a Web Worker too.
 */
import { assertNoMetadata, type ContainerFormat, type ContainerInfo, parseContainer, stripIccProfile } from "./containers";
import { MetadataLeakError, PhotoError, PhotoErrorCode, PhotoResourceError } from "./errors";
import { assessQuality, type QualityReport } from "./quality";
import { DEFAULT_PHOTO_SETTINGS, DEFAULT_QUALITY_SETTINGS, type PhotoSettings, photoSettings, type QualitySettings, qualitySettings } from "./settings";

export interface PreparedPhoto {
  /** Metadata-free baseline JPEG of the upright photo, long edge <= longEdge: encrypt this. */
  readonly jpeg: Blob;
  readonly width: number;
  readonly height: number;
  /** Metadata-free JPEG, long edge <= thumbLongEdge, made from `jpeg`'s pixels. */
  readonly thumbnail: Blob;
  readonly thumbWidth: number;
  readonly thumbHeight: number;
  readonly sourceFormat: ContainerFormat;
  /** EXIF orientation found in the source (1..8), already applied to the pixels. */
  readonly orientation: number;
  /** Quality of the upright full-resolution original. */
  readonly quality: QualityReport;
}

/**
 * Size with the long edge capped at `longEdge`, aspect kept, never upscaled. The short edge is
 * round(short * longEdge / long), halves up, at least 1, in integers, exactly as Python's
 * fit_size: fitSize(4032, 3024, 2048) -> [2048, 1536]; fitSize(800, 600, 2048) -> [800, 600].
 */
export function fitSize(width: number, height: number, longEdge: number): [number, number] {
  const longest = Math.max(width, height);
  if (longest <= longEdge) return [width, height];
  const short = Math.max(1, Math.floor((Math.min(width, height) * longEdge * 2 + longest) / (2 * longest)));
  return width >= height ? [longEdge, short] : [short, longEdge];
}

const MIME: Readonly<Record<ContainerFormat, string>> = { jpeg: "image/jpeg", png: "image/png" };

async function decode(bytes: Uint8Array, format: ContainerFormat): Promise<ImageBitmap> {
  // The checked bytes themselves are decoded (not the caller's Blob again), so what the decoder
  // sees is exactly what the structure walk and the pixel limit passed.
  const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: MIME[format] });
  try {
    // "from-image": apply the EXIF orientation (CIPA DC-008 table, docs/photos.md 2.4);
    // colorSpaceConversion "default": an embedded ICC profile is applied, pixels become sRGB.
    return await createImageBitmap(blob, { imageOrientation: "from-image", colorSpaceConversion: "default", premultiplyAlpha: "default" });
  } catch {
    // Whatever the decoder says means the same to the user; its message is not kept.
    throw new PhotoError(PhotoErrorCode.CORRUPT);
  }
}

function context(canvas: OffscreenCanvas, readBack: boolean): OffscreenCanvasRenderingContext2D {
  const ctx = canvas.getContext("2d", { alpha: false, colorSpace: "srgb", willReadFrequently: readBack });
  if (ctx === null) throw new PhotoResourceError("canvas");
  return ctx;
}

/** A new opaque canvas of the given size with `source` drawn onto white, scaled to fit. */
function drawOnWhite(source: CanvasImageSource, width: number, height: number, readBack: boolean): OffscreenCanvas {
  let canvas: OffscreenCanvas;
  try {
    canvas = new OffscreenCanvas(width, height);
  } catch {
    throw new PhotoResourceError("canvas");
  }
  const ctx = context(canvas, readBack);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, width, height);
  // Downscaling: "high" is the browser's best resampler (Chrome: mipmapped cubic), the closest
  // to Pillow's antialiased bicubic; it only affects the output pixels, never the quality numbers.
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(source, 0, 0, width, height);
  return canvas;
}

/** Encode a canvas as JPEG and prove by parsing that it carries no metadata and the right size. */
async function encodeJpeg(canvas: OffscreenCanvas, quality: number): Promise<Blob> {
  let blob: Blob;
  try {
    blob = await canvas.convertToBlob({ type: "image/jpeg", quality: quality / 100 });
  } catch {
    throw new PhotoResourceError("encode");
  }
  if (blob.type !== "image/jpeg") throw new PhotoResourceError("encode"); // a browser that fell back to PNG
  const raw = new Uint8Array(await blob.arrayBuffer());
  let bytes: Uint8Array<ArrayBuffer>;
  let info: ContainerInfo;
  try {
    bytes = stripIccProfile(raw);
    info = parseContainer(bytes);
  } catch (e) {
    // Our own output does not parse (bytes after EOI, broken structure): we cannot prove it
    // clean, and it is not the photo's fault, so this is not a PhotoError.
    if (e instanceof PhotoError) throw new MetadataLeakError(["unparseable encoder output"]);
    throw e;
  }
  assertNoMetadata(bytes);
  if (info.width !== canvas.width || info.height !== canvas.height) throw new PhotoResourceError("encode");
  return new Blob([bytes], { type: "image/jpeg" });
}

/**
 * Check, decode and re-encode one photo. Rejects with PhotoError (stable `code`) for a bad file;
 * TypeError for a non-Blob argument, RangeError for invalid settings; PhotoResourceError if the
 * browser cannot allocate or encode; MetadataLeakError if the encoder's output carried metadata
 * (a bug: nothing is returned); the browser's own DOMException (NotReadableError) if the File
 * cannot be read at all (e.g. it was deleted or changed on disk after it was picked).
 */
export async function preparePhoto(
  file: Blob,
  settings: PhotoSettings = DEFAULT_PHOTO_SETTINGS,
  quality: QualitySettings = DEFAULT_QUALITY_SETTINGS,
): Promise<PreparedPhoto> {
  if (!(file instanceof Blob)) throw new TypeError("preparePhoto expects the photo file as a Blob");
  // Validated again: an object literal typed as PhotoSettings has not been through the checks.
  settings = photoSettings(settings);
  quality = qualitySettings(quality);
  if (file.size === 0) throw new PhotoError(PhotoErrorCode.EMPTY);
  if (file.size > settings.maxInputBytes) throw new PhotoError(PhotoErrorCode.TOO_LARGE);
  const bytes = new Uint8Array(await file.arrayBuffer());
  const info = parseContainer(bytes);
  if (info.width * info.height > settings.maxPixels) throw new PhotoError(PhotoErrorCode.TOO_MANY_PIXELS);

  const bitmap = await decode(bytes, info.format);
  let full: OffscreenCanvas;
  try {
    // Orientations 5..8 swap the axes. The decoder must report the declared size, oriented as we
    // read the EXIF (as Python requires Pillow's size to equal the declared one).
    const swap = info.orientation >= 5;
    const [width, height] = swap ? [info.height, info.width] : [info.width, info.height];
    if (bitmap.width !== width || bitmap.height !== height) throw new PhotoError(PhotoErrorCode.CORRUPT);
    full = drawOnWhite(bitmap, width, height, true);
  } finally {
    bitmap.close();
  }
  let pixels: ImageData;
  try {
    pixels = context(full, true).getImageData(0, 0, full.width, full.height, { colorSpace: "srgb" });
  } catch {
    throw new PhotoResourceError("canvas");
  }
  const report = assessQuality(pixels, quality);

  const [mainW, mainH] = fitSize(full.width, full.height, settings.longEdge);
  const main = mainW === full.width && mainH === full.height ? full : drawOnWhite(full, mainW, mainH, false);
  const [thumbW, thumbH] = fitSize(mainW, mainH, settings.thumbLongEdge);
  const thumb = thumbW === mainW && thumbH === mainH ? main : drawOnWhite(main, thumbW, thumbH, false);
  const [jpeg, thumbnail] = await Promise.all([encodeJpeg(main, settings.jpegQuality), encodeJpeg(thumb, settings.thumbQuality)]);
  return Object.freeze({
    jpeg,
    width: mainW,
    height: mainH,
    thumbnail,
    thumbWidth: thumbW,
    thumbHeight: thumbH,
    sourceFormat: info.format,
    orientation: info.orientation,
    quality: report,
  });
}
