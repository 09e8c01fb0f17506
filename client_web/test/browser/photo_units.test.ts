/**
 * Unit tests of the browser photo pipeline (src/photo), in headless Chromium:
 *
 * - the quality algorithm against a deliberately naive implementation written here from the text
 *   of docs/photos.md section 5 (plain nested loops, the counterpart of
 *   tests/client_py/photo/reference.py), on random images of many shapes and analysis factors;
 * - thresholds at their boundaries (strict comparisons) and the reason order;
 * - the container walk: format sniffing, truncation, corruption, the bomb limit checked before
 *   decoding, EXIF orientation parsing, the metadata check and the ICC strip;
 * - all eight EXIF orientations through Chrome's decoder against the CIPA DC-008 table;
 * - misuse gives TypeError / RangeError, never a PhotoError.
 */
import { describe, expect, it } from "vitest";
import { commands } from "vitest/browser";
import {
  assertNoMetadata,
  assessQuality,
  exifOrientation,
  fitSize,
  judge,
  jpegSegments,
  MetadataLeakError,
  metadataSegments,
  PhotoError,
  photoSettings,
  preparePhoto,
  type QualityMetrics,
  qualityReportToJson,
  qualitySettings,
  type RgbaPixels,
  sniffFormat,
  stripIccProfile,
} from "../../src/photo";
import { crc32 } from "../../src/photo/containers";

// ---------------------------------------------------------------------------------------------
// Helpers

async function readSample(name: string): Promise<Uint8Array<ArrayBuffer>> {
  const text = await commands.readFile(`../tests/vectors/photos/${name}`, "base64");
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** A JPEG marker segment FF marker + length + payload. */
function segment(marker: number, payload: Uint8Array): Uint8Array {
  const len = payload.length + 2;
  return concat(Uint8Array.of(0xff, marker, len >> 8, len & 0xff), payload);
}

/** `jpeg` with `extra` segments inserted right after SOI (where cameras put EXIF). */
function insertAfterSoi(jpeg: Uint8Array, ...extra: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return concat(jpeg.subarray(0, 2), ...extra, jpeg.subarray(2));
}

/** A TIFF block with one IFD0 entry: Orientation (0x0112) of the given TIFF type and count. */
function tiffOrientation(value: number, little: boolean, type = 3, count = 1): Uint8Array {
  const b = new Uint8Array(8 + 2 + 12 + 4);
  const v = new DataView(b.buffer);
  b.set(ascii(little ? "II" : "MM"), 0);
  v.setUint16(2, 42, little);
  v.setUint32(4, 8, little);
  v.setUint16(8, 1, little);
  v.setUint16(10, 0x0112, little);
  v.setUint16(12, type, little);
  v.setUint32(14, count, little);
  v.setUint16(18, value, little);
  return b;
}

function exifApp1(orientation: number, little: boolean): Uint8Array {
  return segment(0xe1, concat(ascii("Exif\0\0"), tiffOrientation(orientation, little)));
}

async function canvasJpeg(width: number, height: number, paint: (ctx: OffscreenCanvasRenderingContext2D) => void, quality = 0.95): Promise<Uint8Array<ArrayBuffer>> {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d")!;
  paint(ctx);
  return new Uint8Array(await (await canvas.convertToBlob({ type: "image/jpeg", quality })).arrayBuffer());
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof PhotoError) return e.code;
    return e instanceof Error ? e.name : "thrown";
  }
}

/** Deterministic random RGBA pixels (xorshift32), opaque. */
function randomPixels(width: number, height: number, seed: number, smooth = false): RgbaPixels {
  const data = new Uint8ClampedArray(width * height * 4);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i += 4) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const x = (i / 4) % width;
    // "smooth": a gradient with a little noise, so sharpness and framing are not trivially huge.
    data[i] = smooth ? (x * 255) / width + (s & 7) : s & 255;
    data[i + 1] = smooth ? 128 + ((s >>> 8) & 7) : (s >>> 8) & 255;
    data[i + 2] = smooth ? 200 - ((s >>> 16) & 7) : (s >>> 16) & 255;
    data[i + 3] = 255;
  }
  return { width, height, data };
}

// ---------------------------------------------------------------------------------------------
// Naive reference, written from docs/photos.md section 5 (shares no code with src/photo/quality)

function reference(px: RgbaPixels, longEdge = 512, darkLevel = 5, brightLevel = 250) {
  const { width, height, data } = px;
  const g: number[] = [];
  for (let i = 0; i < width * height; i++) {
    g.push((19595 * data[i * 4]! + 38470 * data[i * 4 + 1]! + 7471 * data[i * 4 + 2]! + 32768) >> 16);
  }
  const k = Math.max(1, Math.ceil(Math.max(width, height) / longEdge));
  const w = Math.floor(width / k);
  const h = Math.floor(height / k);
  if (w === 0 || h === 0) return { k, w, h, sharpness: null, mean: null, dark: null, bright: null, framing: null };
  const S: number[][] = [];
  for (let by = 0; by < h; by++) {
    const row: number[] = [];
    for (let bx = 0; bx < w; bx++) {
      let t = 0;
      for (let y = by * k; y < by * k + k; y++) for (let x = bx * k; x < bx * k + k; x++) t += g[y * width + x]!;
      row.push(t);
    }
    S.push(row);
  }
  const m = S.map((row) => row.map((s) => s / (k * k)));
  const flat = m.flat();
  const dark = S.flat().filter((s) => s <= darkLevel * k * k).length / (w * h);
  const bright = S.flat().filter((s) => s >= brightLevel * k * k).length / (w * h);
  const mean = flat.reduce((a, b) => a + b, 0) / flat.length;
  if (Math.min(w, h) < 8) return { k, w, h, sharpness: null, mean, dark, bright, framing: null };
  const lap: number[] = [];
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) lap.push(m[y - 1]![x]! + m[y + 1]![x]! + m[y]![x - 1]! + m[y]![x + 1]! - 4 * m[y]![x]!);
  }
  const sd = (v: number[]) => {
    const mu = v.reduce((a, b) => a + b, 0) / v.length;
    return Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / v.length);
  };
  const sharpness = sd(lap) ** 2;
  const band = Math.max(1, Math.floor(Math.min(w, h) / 8));
  const centre: number[] = [];
  const border: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (x >= Math.floor(w / 4) && x < w - Math.floor(w / 4) && y >= Math.floor(h / 4) && y < h - Math.floor(h / 4)) centre.push(m[y]![x]!);
      if (x < band || x >= w - band || y < band || y >= h - band) border.push(m[y]![x]!);
    }
  }
  const framing = sd(centre) / Math.max(sd(border), 1.0);
  return { k, w, h, sharpness, mean, dark, bright, framing };
}

function close(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
}

// ---------------------------------------------------------------------------------------------

describe("quality algorithm (docs/photos.md 5)", () => {
  const shapes: [number, number][] = [
    [1, 1], [7, 5], [8, 8], [9, 8], [20, 9], [64, 48], [512, 384], [513, 300], [1030, 771], [1100, 77], [1536, 9], [2000, 1], [3, 1600],
  ];
  for (const [w, h] of shapes) {
    for (const smooth of [false, true]) {
      it(`${w}x${h} ${smooth ? "smooth" : "noise"}: equals the naive reference`, () => {
        const px = randomPixels(w, h, w * 7919 + h + (smooth ? 1 : 0), smooth);
        const got = assessQuality(px).metrics;
        const ref = reference(px);
        expect([got.analysisFactor, got.analysisWidth, got.analysisHeight]).toEqual([ref.k, ref.w, ref.h]);
        expect([got.clippedDark, got.clippedBright]).toEqual([ref.dark, ref.bright]);
        const pairs: [string, number | null, number | null][] = [
          ["sharpness", got.sharpness, ref.sharpness],
          ["mean", got.meanBrightness, ref.mean],
          ["framing", got.framingRatio, ref.framing],
        ];
        for (const [name, a, b] of pairs) expect(close(a, b), `${name}: ${a} vs ${b}`).toBe(true);
      });
    }
  }

  it("grey is the fixed-point BT.601 luma (Pillow convert('L')), exactly", () => {
    // Uniform images: the mean is the grey value itself. Pillow: red 76, green 150, blue 29.
    const cases: [[number, number, number], number][] = [
      [[255, 255, 255], 255], [[0, 0, 0], 0], [[255, 0, 0], 76], [[0, 255, 0], 150], [[0, 0, 255], 29], [[12, 200, 99], 132],
    ];
    for (const [[r, g, b], grey] of cases) {
      const data = new Uint8ClampedArray(16 * 16 * 4);
      for (let i = 0; i < data.length; i += 4) data.set([r, g, b, 255], i);
      expect(assessQuality({ width: 16, height: 16, data }).metrics.meanBrightness).toBe(grey);
    }
  });

  it("alpha is ignored: the pixels are read as drawn (already flattened onto white)", () => {
    const px = randomPixels(40, 30, 5);
    const transparent = new Uint8ClampedArray(px.data);
    for (let i = 3; i < transparent.length; i += 4) transparent[i] = 0;
    expect(assessQuality({ ...px, data: transparent })).toEqual(assessQuality(px));
  });

  it("a flat grey photo warns blurred and framing (Python doctest); a small one also low resolution", () => {
    const flat = (w: number, h: number, v: number) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4).fill(v) });
    const big = assessQuality(flat(1000, 800, 120));
    expect([big.verdict, [...big.reasons]]).toEqual(["warn", ["blurred", "framing"]]);
    const small = assessQuality(flat(100, 80, 128));
    expect([...small.reasons]).toEqual(["blurred", "low_resolution", "framing"]);
    // Too thin for one analysis block: only resolution is measured.
    const thin = assessQuality(flat(2000, 1, 128));
    expect(thin.metrics.analysisFactor).toBe(4);
    expect([thin.metrics.sharpness, thin.metrics.meanBrightness, thin.metrics.framingRatio]).toEqual([null, null, null]);
    expect([...thin.reasons]).toEqual(["low_resolution"]);
  });

  it("thresholds are strict comparisons, reasons in the documented order", () => {
    const base: QualityMetrics = {
      width: 1024, height: 768, analysisFactor: 2, analysisWidth: 512, analysisHeight: 384,
      sharpness: 100, meanBrightness: 128, clippedDark: 0, clippedBright: 0, framingRatio: 2,
    };
    const reasons = (m: Partial<QualityMetrics>) => judge({ ...base, ...m }).reasons;
    expect(judge(base)).toEqual({ verdict: "ok", reasons: [] });
    expect(reasons({ sharpness: 40 })).toEqual([]);
    expect(reasons({ sharpness: 39.999 })).toEqual(["blurred"]);
    expect(reasons({ sharpness: null })).toEqual([]);
    expect(reasons({ clippedBright: 0.05 })).toEqual([]);
    expect(reasons({ clippedBright: 0.0501 })).toEqual(["over_exposed"]);
    expect(reasons({ meanBrightness: 215 })).toEqual([]);
    expect(reasons({ meanBrightness: 215.001 })).toEqual(["over_exposed"]);
    expect(reasons({ clippedDark: 0.0501 })).toEqual(["under_exposed"]);
    expect(reasons({ meanBrightness: 40 })).toEqual([]);
    expect(reasons({ meanBrightness: 39.999 })).toEqual(["under_exposed"]);
    expect(reasons({ width: 720, height: 720 })).toEqual([]);
    expect(reasons({ width: 1280, height: 719 })).toEqual(["low_resolution"]);
    expect(reasons({ framingRatio: 1 })).toEqual([]);
    expect(reasons({ framingRatio: 0.999 })).toEqual(["framing"]);
    expect(
      judge({ ...base, sharpness: 1, clippedBright: 0.5, clippedDark: 0.5, width: 100, height: 100, framingRatio: 0.1 }),
    ).toEqual({ verdict: "warn", reasons: ["blurred", "over_exposed", "under_exposed", "low_resolution", "framing"] });
    // Settings move the thresholds.
    expect(judge({ ...base, sharpness: 100 }, qualitySettings({ minSharpness: 150 })).reasons).toEqual(["blurred"]);
  });

  it("the JSON form is Python's as_dict()", () => {
    const json = qualityReportToJson(assessQuality(randomPixels(64, 48, 3)));
    expect(Object.keys(json)).toEqual(["verdict", "reasons", "width", "height", "metrics"]);
    expect(Object.keys(json.metrics)).toEqual([
      "analysis_factor", "analysis_size", "sharpness", "mean_brightness", "clipped_dark", "clipped_bright", "framing_ratio",
    ]);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(json.metrics.analysis_size).toEqual([64, 48]);
  });

  it("misuse is a TypeError or RangeError", () => {
    expect(() => assessQuality({ width: 2, height: 2, data: new Uint8ClampedArray(15) })).toThrow(RangeError);
    expect(() => assessQuality({ width: 0, height: 2, data: new Uint8ClampedArray(0) })).toThrow(RangeError);
    expect(() => assessQuality({ width: 1, height: 1, data: [1, 2, 3, 4] as unknown as Uint8Array })).toThrow(TypeError);
    expect(() => assessQuality(null as unknown as RgbaPixels)).toThrow(TypeError);
    expect(() => photoSettings({ jpegQuality: 96 })).toThrow(RangeError);
    expect(() => photoSettings({ longEdge: 0 })).toThrow(RangeError);
    expect(() => photoSettings({ longEdge: 200 })).toThrow(RangeError); // thumb 320 > 200
    expect(() => qualitySettings({ clipDarkLevel: 250 })).toThrow(RangeError);
    expect(() => qualitySettings({ analysisLongEdge: 4 })).toThrow(RangeError);
    expect(() => qualitySettings({ minMean: Number.NaN })).toThrow(RangeError);
    expect(Object.isFrozen(photoSettings())).toBe(true);
    // A literal that skipped photoSettings()/qualitySettings() is still checked.
    const px = randomPixels(16, 16, 1);
    expect(() => assessQuality(px, { ...qualitySettings(), maxClippedShare: 2 })).toThrow(RangeError);
  });

  it("fitSize is Python's fit_size (halves up, never upscaled)", () => {
    expect(fitSize(4032, 3024, 2048)).toEqual([2048, 1536]);
    expect(fitSize(3000, 4000, 2048)).toEqual([1536, 2048]);
    expect(fitSize(800, 600, 2048)).toEqual([800, 600]);
    expect(fitSize(4096, 3, 2048)).toEqual([2048, 2]); // 1.5 rounds up
    expect(fitSize(5000, 1, 2048)).toEqual([2048, 1]); // at least 1
    expect(fitSize(1024, 768, 320)).toEqual([320, 240]);
  });
});

describe("container checks (docs/photos.md 2)", () => {
  it("sniffs the format from the first bytes only", () => {
    const sniff = (bytes: Uint8Array) => {
      try {
        return sniffFormat(bytes);
      } catch (e) {
        return (e as PhotoError).code;
      }
    };
    expect(sniff(new Uint8Array(0))).toBe("photo_empty");
    expect(sniff(Uint8Array.of(0xff, 0xd8))).toBe("jpeg");
    expect(sniff(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a))).toBe("png");
    expect(sniff(Uint8Array.of(0x89, 0x50, 0x4e))).toBe("photo_truncated"); // prefix of the PNG signature
    expect(sniff(Uint8Array.of(0xff))).toBe("photo_truncated");
    for (const other of ["GIF89a....", "RIFF....WEBPVP8 ", "\0\0\0\x18ftypheic", "\0\0\0\x1cftypavif", "BM......", "II*\0....", "<svg>"]) {
      expect(sniff(ascii(other)), other).toBe("photo_unsupported_format");
    }
  });

  it("truncated at any point is photo_truncated; damaged structure is photo_corrupt", async () => {
    const jpeg = await readSample("sharp.jpg");
    for (const cut of [3, 4, 20, 200, 700, 5000, Math.floor(jpeg.length / 2), jpeg.length - 1]) {
      expect(await codeOf(preparePhoto(new Blob([jpeg.subarray(0, cut)]))), `jpeg cut ${cut}`).toBe("photo_truncated");
    }
    const png = await readSample("alpha_text.png");
    for (const cut of [8, 12, 33, 40, 1000, png.length - 1]) {
      expect(await codeOf(preparePhoto(new Blob([png.subarray(0, cut)]))), `png cut ${cut}`).toBe("photo_truncated");
    }
    const badCrc = new Uint8Array(png);
    badCrc[29]! ^= 1; // last byte of the IHDR CRC (8 signature + 4 length + 4 type + 13 data)
    expect(await codeOf(preparePhoto(new Blob([badCrc])))).toBe("photo_corrupt");
    const noFF = new Uint8Array(jpeg);
    noFF[2] = 0x00; // the byte after SOI must start a marker
    expect(await codeOf(preparePhoto(new Blob([noFF])))).toBe("photo_corrupt");
    // A scan before any frame header.
    expect(await codeOf(preparePhoto(new Blob([concat(Uint8Array.of(0xff, 0xd8), segment(0xda, new Uint8Array(8)), Uint8Array.of(1, 2, 0xff, 0xd9))])))).toBe(
      "photo_corrupt",
    );
  });

  it("bytes after EOI are ignored on input (phones append MPO frames)", async () => {
    const jpeg = await readSample("sharp.jpg");
    const p = await preparePhoto(new Blob([jpeg, ascii("trailing MPO frame bytes")]));
    expect([p.width, p.height, p.quality.verdict]).toEqual([1024, 768, "ok"]);
  });

  it("damaged entropy-coded data with an intact structure decodes, as with Pillow", async () => {
    // 400 scan bytes of sharp.jpg overwritten (no FF, so the structure walk still passes). Pillow
    // (libjpeg-turbo) decodes it with warnings; its metrics, measured with client_py for exactly
    // these bytes: sharpness 269.286, mean 210.488, framing 1.53736, verdict ok.
    const d = new Uint8Array(await readSample("sharp.jpg"));
    for (let i = 60000; i < 60400; i++) d[i] = (i * 37) % 255;
    const m = (await preparePhoto(new Blob([d]))).quality.metrics;
    expect(Math.abs(m.sharpness! - 269.286)).toBeLessThan(0.05 * 269.286);
    expect(Math.abs(m.meanBrightness! - 210.488)).toBeLessThan(0.5);
    expect(Math.abs(m.framingRatio! - 1.53736)).toBeLessThan(0.05 * 1.53736);
  });

  it("size limits: too large before reading, too many pixels before decoding", async () => {
    const jpeg = await readSample("sharp.jpg");
    expect(await codeOf(preparePhoto(new Blob([jpeg]), photoSettings({ maxInputBytes: jpeg.length - 1 })))).toBe("photo_too_large");
    expect(await codeOf(preparePhoto(new Blob([jpeg]), photoSettings({ maxInputBytes: jpeg.length })))).toBe("ok");
    expect(await codeOf(preparePhoto(new Blob([jpeg]), photoSettings({ maxPixels: 1024 * 768 - 1 })))).toBe("photo_too_many_pixels");
    expect(await codeOf(preparePhoto(new Blob([jpeg]), photoSettings({ maxPixels: 1024 * 768 })))).toBe("ok");
    // A JPEG declaring 65535 x 65535 whose scan is garbage: if it reached the decoder the answer
    // would be photo_corrupt, so the code proves the limit is applied to the header first.
    const sof = Uint8Array.of(8, 0xff, 0xff, 0xff, 0xff, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0);
    const bomb = concat(Uint8Array.of(0xff, 0xd8), segment(0xc0, sof), segment(0xda, Uint8Array.of(3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0)), ascii("garbage"), Uint8Array.of(0xff, 0xd9));
    expect(await codeOf(preparePhoto(new Blob([bomb])))).toBe("photo_too_many_pixels");
    // A PNG declaring 1 x 1 with a zlib stream that is not one: the decoder's refusal is CORRUPT.
    const chunk = (type: string, body: Uint8Array) => {
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, body.length);
      const crc = new Uint8Array(4);
      new DataView(crc.buffer).setUint32(0, crc32(concat(ascii(type), body)));
      return concat(len, ascii(type), body, crc);
    };
    const ihdr = Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0);
    const badZlib = concat(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), chunk("IHDR", ihdr), chunk("IDAT", ascii("not zlib")), chunk("IEND", new Uint8Array(0)));
    expect(await codeOf(preparePhoto(new Blob([badZlib])))).toBe("photo_corrupt");
  });

  it("a non-Blob is a TypeError and bad settings a RangeError, not a PhotoError", async () => {
    expect(await codeOf(preparePhoto("photo.jpg" as unknown as Blob))).toBe("TypeError");
    const file = new Blob([await readSample("tiny.jpg")]);
    expect(await codeOf(preparePhoto(file, { ...photoSettings(), jpegQuality: 0 }))).toBe("RangeError");
    expect(await codeOf(preparePhoto(file, undefined, { ...qualitySettings(), clipBrightLevel: 300 }))).toBe("RangeError");
  });

  it("EXIF orientation is read like Python (bad entries mean 1)", () => {
    for (const little of [true, false]) {
      for (let v = 1; v <= 8; v++) expect(exifOrientation(tiffOrientation(v, little))).toBe(v);
      expect(exifOrientation(tiffOrientation(0, little))).toBe(1);
      expect(exifOrientation(tiffOrientation(9, little))).toBe(1);
      expect(exifOrientation(tiffOrientation(6, little, 4))).toBe(1); // LONG instead of SHORT
      expect(exifOrientation(tiffOrientation(6, little, 3, 2))).toBe(1); // count 2
      expect(exifOrientation(tiffOrientation(6, little).subarray(0, 20))).toBe(1); // entry cut
    }
    expect(exifOrientation(ascii("XX*\0\0\0\0\x08"))).toBe(1);
    const badMagic = tiffOrientation(6, true);
    badMagic[2] = 43;
    expect(exifOrientation(badMagic)).toBe(1);
    expect(exifOrientation(new Uint8Array(3))).toBe(1);
  });
});

describe("metadata: parsed, not assumed (docs/photos.md 3)", () => {
  it("the metadata check reports every kind of segment a camera or editor writes", async () => {
    const clean = stripIccProfile(await canvasJpeg(32, 24, (c) => c.fillRect(0, 0, 8, 8)));
    expect(metadataSegments(clean)).toEqual([]);
    expect(() => assertNoMetadata(clean)).not.toThrow();
    const cases: [Uint8Array, string[]][] = [
      [exifApp1(6, false), ["APP1"]],
      [segment(0xe1, ascii("http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>")), ["APP1"]],
      [segment(0xe2, ascii("ICC_PROFILE\0\x01\x01....")), ["APP2"]],
      [segment(0xed, ascii("Photoshop 3.0\x008BIM")), ["APP13"]],
      [segment(0xee, ascii("Adobe\0\x64\0\0\0\0\x01")), ["APP14"]],
      [segment(0xfe, ascii("patient name")), ["COM"]],
      [segment(0xe0, ascii("JFXX\0\x10thumbnail")), ["APP0"]],
      [segment(0xe0, concat(ascii("JFIF\0"), Uint8Array.of(1, 1, 0, 0, 1, 0, 1, 1, 1), new Uint8Array(3))), ["APP0"]], // JFIF with a 1x1 thumbnail
    ];
    for (const [extra, names] of cases) {
      const dirty = insertAfterSoi(clean, extra);
      expect(metadataSegments(dirty)).toEqual(names);
      expect(() => assertNoMetadata(dirty)).toThrow(MetadataLeakError);
    }
    // A second (even valid) JFIF APP0 is not the encoder's output either.
    const app0 = jpegSegments(clean).find((s) => s.marker === 0xe0)!;
    expect(metadataSegments(insertAfterSoi(clean, segment(0xe0, app0.payload)))).toEqual(["APP0"]);
    // Progressive or any other frame type is refused (only baseline SOF0 is our output).
    const sof2 = new Uint8Array(clean);
    const sofAt = jpegSegments(clean).find((s) => s.marker === 0xc0)!.offset;
    sof2[sofAt + 1] = 0xc2;
    expect(metadataSegments(sof2)).toEqual(["SOF2"]);
    // Nothing may follow EOI in our output.
    expect(() => metadataSegments(concat(clean, ascii("x")))).toThrow(PhotoError);
    // The message names segments only.
    try {
      assertNoMetadata(insertAfterSoi(clean, segment(0xfe, ascii("patient name"))));
    } catch (e) {
      expect((e as Error).message).toBe("encoder output carries metadata segments: COM");
    }
  });

  it("Chrome's encoder adds its sRGB ICC profile; stripping it keeps every pixel", async () => {
    const raw = await canvasJpeg(64, 48, (c) => {
      c.fillStyle = "#c08060";
      c.fillRect(0, 0, 64, 48);
      c.fillStyle = "#203040";
      c.fillRect(10, 10, 30, 20);
    });
    const found = metadataSegments(raw);
    console.log(`raw canvas JPEG metadata segments: [${found.join(", ")}]`);
    expect(found.every((n) => n === "APP2")).toBe(true); // if anything else appears, we must know
    const stripped = stripIccProfile(raw);
    expect(metadataSegments(stripped)).toEqual([]);
    expect(raw.length - stripped.length).toBe(jpegSegments(raw).filter((s) => s.marker === 0xe2).reduce((n, s) => n + s.payload.length + 4, 0));
    const pixels = async (bytes: Uint8Array<ArrayBuffer>) => {
      const bmp = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
      const c = new OffscreenCanvas(bmp.width, bmp.height).getContext("2d", { willReadFrequently: true })!;
      c.drawImage(bmp, 0, 0);
      return c.getImageData(0, 0, bmp.width, bmp.height).data;
    };
    expect(await pixels(new Uint8Array(stripped))).toEqual(await pixels(raw));
    // Only ICC segments go: another APP2 (e.g. an MPF index) stays and is still refused.
    const mpf = insertAfterSoi(stripped, segment(0xe2, ascii("MPF\0II*\0")));
    expect(metadataSegments(stripIccProfile(mpf))).toEqual(["APP2"]);
  });
});

describe("EXIF orientation through the browser decoder (CIPA DC-008, docs/photos.md 2.4)", () => {
  // Stored image 96 x 64 in four quadrants; the upright image of orientation o at (x, y) is the
  // stored pixel at map(o, x, y) (the table of docs/photos.md 2.4, Pillow's transposes).
  const W = 96;
  const H = 64;
  const COLOURS: Record<string, [number, number, number]> = { TL: [255, 0, 0], TR: [0, 200, 0], BL: [0, 0, 255], BR: [240, 240, 0] };
  const storedQuadrant = (x: number, y: number) => (y < H / 2 ? "T" : "B") + (x < W / 2 ? "L" : "R");
  const map = (o: number, x: number, y: number): [number, number] => {
    switch (o) {
      case 1: return [x, y];
      case 2: return [W - 1 - x, y]; // flip left-right
      case 3: return [W - 1 - x, H - 1 - y]; // rotate 180
      case 4: return [x, H - 1 - y]; // flip top-bottom
      case 5: return [y, x]; // transpose
      case 6: return [y, H - 1 - x]; // rotate 90 clockwise: stored top row is the right side
      case 7: return [W - 1 - y, H - 1 - x]; // transverse
      default: return [W - 1 - y, x]; // 8: rotate 90 counter-clockwise
    }
  };

  for (let o = 1; o <= 8; o++) {
    it(`orientation ${o}`, async () => {
      const stored = await canvasJpeg(W, H, (c) => {
        for (const [q, [r, g, b]] of Object.entries(COLOURS)) {
          c.fillStyle = `rgb(${r},${g},${b})`;
          c.fillRect(q[1] === "L" ? 0 : W / 2, q[0] === "T" ? 0 : H / 2, W / 2, H / 2);
        }
      }, 1.0);
      const file = insertAfterSoi(stored, exifApp1(o, o % 2 === 1));
      const p = await preparePhoto(new Blob([file]));
      expect(p.orientation).toBe(o);
      const [uw, uh] = o >= 5 ? [H, W] : [W, H];
      expect([p.width, p.height]).toEqual([uw, uh]);
      const bmp = await createImageBitmap(p.jpeg);
      const ctx = new OffscreenCanvas(uw, uh).getContext("2d", { willReadFrequently: true })!;
      ctx.drawImage(bmp, 0, 0);
      const img = ctx.getImageData(0, 0, uw, uh);
      for (const [x, y] of [[uw / 4, uh / 4], [(3 * uw) / 4, uh / 4], [uw / 4, (3 * uh) / 4], [(3 * uw) / 4, (3 * uh) / 4]] as const) {
        const want = COLOURS[storedQuadrant(...map(o, x, y))]!;
        const i = (y * uw + x) * 4;
        const got = [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
        for (let c = 0; c < 3; c++) expect(Math.abs(got[c]! - want[c]!), `o=${o} at ${x},${y}: ${got} vs ${want}`).toBeLessThan(40);
      }
    });
  }
});

describe("PNG variants (docs/photos.md 2.4)", () => {
  const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
  const chunk = (type: string, body: Uint8Array) => {
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, body.length);
    const crc = new Uint8Array(4);
    new DataView(crc.buffer).setUint32(0, crc32(concat(ascii(type), body)));
    return concat(head, ascii(type), body, crc);
  };
  const zlib = async (raw: Uint8Array<ArrayBuffer>) =>
    new Uint8Array(await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate"))).arrayBuffer());
  /** A one-row PNG: IHDR (width, 1, depth, colour type) + optional extra chunks + IDAT + IEND. */
  async function png(width: number, depth: number, colourType: number, row: Uint8Array, extra: Uint8Array[] = []) {
    const ihdr = new Uint8Array(13);
    const v = new DataView(ihdr.buffer);
    v.setUint32(0, width);
    v.setUint32(4, 1);
    ihdr[8] = depth;
    ihdr[9] = colourType;
    return concat(SIGNATURE, chunk("IHDR", ihdr), ...extra, chunk("IDAT", await zlib(concat(Uint8Array.of(0), row))), chunk("IEND", new Uint8Array(0)));
  }
  async function greys(file: Uint8Array<ArrayBuffer>): Promise<number[][]> {
    const p = await preparePhoto(new Blob([file]));
    const bmp = await createImageBitmap(p.jpeg);
    const ctx = new OffscreenCanvas(bmp.width, bmp.height).getContext("2d", { willReadFrequently: true })!;
    ctx.drawImage(bmp, 0, 0);
    const d = ctx.getImageData(0, 0, bmp.width, 1).data;
    return Array.from({ length: bmp.width }, (_, i) => [d[i * 4]!, d[i * 4 + 1]!, d[i * 4 + 2]!]);
  }

  it("the decoded pixels feed the quality check as Python's decode does", async () => {
    // 16-bit grey: Python scales by 1/257 (0, 0x7FFF, 0x8080, 0xFFFF -> 0, 127, 128, 255). The
    // quality numbers come from the decoded pixels, so compare those directly (not via JPEG).
    const sixteen = new Uint8Array(8);
    new DataView(sixteen.buffer).setUint32(0, 0x00007fff);
    new DataView(sixteen.buffer).setUint32(4, 0x8080ffff);
    const file = await png(4, 16, 0, sixteen);
    const bmp = await createImageBitmap(new Blob([file]), { imageOrientation: "from-image" });
    const ctx = new OffscreenCanvas(4, 1).getContext("2d", { willReadFrequently: true })!;
    ctx.drawImage(bmp, 0, 0);
    const d = ctx.getImageData(0, 0, 4, 1).data;
    expect([d[0], d[4], d[8], d[12]]).toEqual([0, 127, 128, 255]);
    expect(await codeOf(preparePhoto(new Blob([file])))).toBe("ok");
  });

  it("palette transparency and grey+alpha flatten onto white", async () => {
    // Palette: entry 0 opaque red, entry 1 fully transparent black; 16 pixels alternating in runs.
    const row = Uint8Array.of(...Array(8).fill(0), ...Array(8).fill(1));
    const plte = chunk("PLTE", Uint8Array.of(255, 0, 0, 0, 0, 0));
    const trns = chunk("tRNS", Uint8Array.of(255, 0));
    const px = await greys(await png(16, 8, 3, row, [plte, trns]));
    px[2]!.forEach((c, i) => expect(Math.abs(c - [255, 0, 0][i]!)).toBeLessThan(30)); // opaque red stays red
    for (const c of px[13]!) expect(c).toBeGreaterThan(245); // transparent black -> white
    // Grey + alpha: grey 0 at alpha 0 -> white; grey 0 at alpha 255 -> black.
    const ga = await greys(await png(16, 8, 4, Uint8Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? 0 : i < 16 ? 0 : 255))));
    for (const c of ga[2]!) expect(c).toBeGreaterThan(245);
    for (const c of ga[13]!) expect(c).toBeLessThan(10);
  });

  it("a PNG eXIf orientation is applied like a JPEG one", async () => {
    // 40 x 1 PNG: red left half, blue right half; orientation 6 makes it 1 x 40, red at the top.
    const row = Uint8Array.from({ length: 40 * 3 }, (_, i) => (i % 3 === (i < 60 ? 0 : 2) ? 255 : 0));
    const file = await png(40, 8, 2, row, [chunk("eXIf", tiffOrientation(6, false))]);
    const p = await preparePhoto(new Blob([file]));
    expect([p.orientation, p.width, p.height]).toEqual([6, 1, 40]);
    const bmp = await createImageBitmap(p.jpeg);
    const ctx = new OffscreenCanvas(1, 40).getContext("2d", { willReadFrequently: true })!;
    ctx.drawImage(bmp, 0, 0);
    const top = ctx.getImageData(0, 5, 1, 1).data;
    const bottom = ctx.getImageData(0, 35, 1, 1).data;
    expect(top[0]! > 200 && top[2]! < 60, `top ${top}`).toBe(true); // stored left (red) is now the top
    expect(bottom[2]! > 200 && bottom[0]! < 60, `bottom ${bottom}`).toBe(true);
  });
});

describe("a misbehaving encoder never yields a photo (docs/photos.md 3)", () => {
  // Simulates a future browser whose canvas encoder writes more than today: the real encoder's
  // output is altered on the way out, as Python's test simulates a Pillow that adds a comment.
  async function withEncoder(alter: (jpeg: Blob) => Promise<Blob>, run: () => Promise<void>): Promise<void> {
    const original = OffscreenCanvas.prototype.convertToBlob;
    OffscreenCanvas.prototype.convertToBlob = async function (this: OffscreenCanvas, options?: ImageEncodeOptions) {
      return alter(await original.call(this, options));
    };
    try {
      await run();
    } finally {
      OffscreenCanvas.prototype.convertToBlob = original;
    }
  }
  const sample = async () => new Blob([await readSample("tiny.jpg")]);
  const alterBytes = (f: (b: Uint8Array) => Uint8Array<ArrayBuffer>) => async (blob: Blob) =>
    new Blob([f(new Uint8Array(await blob.arrayBuffer()))], { type: "image/jpeg" });

  it("an encoder that adds EXIF, a comment or XMP: MetadataLeakError", async () => {
    for (const extra of [exifApp1(1, true), segment(0xfe, ascii("GPS 51.5N")), segment(0xe1, ascii("http://ns.adobe.com/xap/1.0/\0<x/>"))]) {
      await withEncoder(alterBytes((b) => insertAfterSoi(b, extra)), async () => {
        expect(await codeOf(preparePhoto(await sample()))).toBe("MetadataLeakError");
      });
    }
  });

  it("an encoder that appends bytes, fails, or falls back to PNG: never a photo, never a PhotoError", async () => {
    await withEncoder(alterBytes((b) => concat(b, ascii("tail"))), async () => {
      // Our output must end at EOI; bytes after it could carry anything: not a photo error.
      expect(await codeOf(preparePhoto(await sample()))).toBe("MetadataLeakError");
    });
    await withEncoder(async () => Promise.reject(new DOMException("encoding failed", "EncodingError")), async () => {
      expect(await codeOf(preparePhoto(await sample()))).toBe("PhotoResourceError");
    });
    await withEncoder(async (blob) => new Blob([await blob.arrayBuffer()], { type: "image/png" }), async () => {
      expect(await codeOf(preparePhoto(await sample()))).toBe("PhotoResourceError");
    });
    // Restored: the real encoder works again.
    expect(await codeOf(preparePhoto(await sample()))).toBe("ok");
  });
});
