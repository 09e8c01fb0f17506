/**
 * Photo quality check: sharpness, exposure, resolution, framing -> "ok" or "warn" + reasons.
 *
 * A port of client_py/photo/quality.py; docs/photos.md section 5 is the normative text. For an
 * upright 8-bit sRGB image of W x H pixels (RGBA from `getImageData`, alpha ignored: the pixels
 * were drawn onto white already):
 *
 * 1. grey g = (19595 R + 38470 G + 7471 B + 32768) >> 16 (BT.601 luma, 16-bit fixed point;
 *    exactly Pillow's convert("L"));
 * 2. k = max(1, ceil(max(W, H) / analysisLongEdge)); analysis image w = W // k by h = H // k
 *    (right/bottom remainders dropped); each analysis pixel is the integer block sum S of a
 *    k x k block of g, its value the mean m = S / k^2;
 * 3. sharpness = population variance of the 4-neighbour Laplacian over interior pixels;
 * 4. exposure = mean of m, shares of pixels with S <= dark * k^2 and S >= bright * k^2;
 * 5. resolution = min(W, H);
 * 6. framing = sd(centre box) / max(sd(border band), 1).
 *
 * Arithmetic: grey values and block sums are exact integers held in doubles (a block sum is at
 * most 255 * 64e6 < 2^53). The Python side evaluates the variances as exact integers with one
 * final division; here they are two-pass (mean first) double variances, as section 5.2 allows,
 * which differ from the exact value by a relative ~1e-15, far inside the tolerance of 5.5.
 *
 * No DOM, no canvas: `assessQuality` takes plain typed-array pixels, so it can run in a Web
 * Worker (post the ImageData's buffer, transfer it, call assessQuality there).
 */
import { DEFAULT_QUALITY_SETTINGS, type QualitySettings, qualitySettings } from "./settings";

/** The pixels `assessQuality` reads: what `getImageData` returns (RGBA, row-major). */
export interface RgbaPixels {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray | Uint8Array;
}

export type Verdict = "ok" | "warn";
export type Reason = "blurred" | "over_exposed" | "under_exposed" | "low_resolution" | "framing";
/** Reason codes in the order a report lists them (docs/photos.md 5.4). */
export const REASON_ORDER: readonly Reason[] = ["blurred", "over_exposed", "under_exposed", "low_resolution", "framing"];

/** Sharpness and framing are not judged when the analysis image is smaller than this. */
export const MIN_ANALYSIS_EDGE = 8;

/** Measured values (null: not measurable on an image this small). */
export interface QualityMetrics {
  readonly width: number;
  readonly height: number;
  readonly analysisFactor: number;
  readonly analysisWidth: number;
  readonly analysisHeight: number;
  readonly sharpness: number | null;
  readonly meanBrightness: number | null;
  readonly clippedDark: number | null;
  readonly clippedBright: number | null;
  readonly framingRatio: number | null;
}

export interface QualityReport {
  readonly verdict: Verdict;
  readonly reasons: readonly Reason[];
  readonly metrics: QualityMetrics;
}

/** The JSON form of Python's `QualityReport.as_dict()` (what a client attaches on "send anyway"). */
export interface QualityReportJson {
  verdict: Verdict;
  reasons: Reason[];
  width: number;
  height: number;
  metrics: {
    analysis_factor: number;
    analysis_size: [number, number];
    sharpness: number | null;
    mean_brightness: number | null;
    clipped_dark: number | null;
    clipped_bright: number | null;
    framing_ratio: number | null;
  };
}

export function qualityReportToJson(report: QualityReport): QualityReportJson {
  const m = report.metrics;
  return {
    verdict: report.verdict,
    reasons: [...report.reasons],
    width: m.width,
    height: m.height,
    metrics: {
      analysis_factor: m.analysisFactor,
      analysis_size: [m.analysisWidth, m.analysisHeight],
      sharpness: m.sharpness,
      mean_brightness: m.meanBrightness,
      clipped_dark: m.clippedDark,
      clipped_bright: m.clippedBright,
      framing_ratio: m.framingRatio,
    },
  };
}

/** k = max(1, ceil(max(W, H) / analysisLongEdge)), in integer arithmetic. */
export function analysisFactor(width: number, height: number, analysisLongEdge: number): number {
  return Math.max(1, Math.floor((Math.max(width, height) + analysisLongEdge - 1) / analysisLongEdge));
}

/**
 * The analysis image: grey k x k block sums S, row-major, w * h entries (null when the image is
 * smaller than one block). One pass over the RGBA bytes; only one row of block accumulators is
 * live, so memory is O(w * h) whatever the photo size.
 */
export function blockSums(pixels: RgbaPixels, k: number): { w: number; h: number; sums: Float64Array } | null {
  const { width, data } = pixels;
  const w = Math.floor(pixels.width / k);
  const h = Math.floor(pixels.height / k);
  if (w === 0 || h === 0) return null;
  const sums = new Float64Array(w * h);
  const rowStride = width * 4;
  for (let by = 0; by < h; by++) {
    const out = by * w;
    for (let dy = 0; dy < k; dy++) {
      let p = (by * k + dy) * rowStride;
      for (let bx = 0; bx < w; bx++) {
        // Block row sums fit a small integer (255 * k <= 2^31 for any allowed k): int maths.
        let acc = 0;
        for (let dx = 0; dx < k; dx++, p += 4) {
          acc += (19595 * data[p]! + 38470 * data[p + 1]! + 7471 * data[p + 2]! + 32768) >>> 16;
        }
        sums[out + bx]! += acc;
      }
    }
  }
  return { w, h, sums };
}

function laplacianVariance(sums: Float64Array, w: number, h: number, area: number): number {
  // L on the sums (Ls = k^2 L), exact integers; population variance, mean first.
  const n = (w - 2) * (h - 2);
  let total = 0;
  for (let y = 1; y < h - 1; y++) {
    const row = y * w;
    for (let x = 1; x < w - 1; x++) {
      const i = row + x;
      total += sums[i - w]! + sums[i + w]! + sums[i - 1]! + sums[i + 1]! - 4 * sums[i]!;
    }
  }
  const mean = total / n;
  let squares = 0;
  for (let y = 1; y < h - 1; y++) {
    const row = y * w;
    for (let x = 1; x < w - 1; x++) {
      const i = row + x;
      const d = sums[i - w]! + sums[i + w]! + sums[i - 1]! + sums[i + 1]! - 4 * sums[i]! - mean;
      squares += d * d;
    }
  }
  return squares / n / (area * area);
}

/** Centre box [x0, x1) x [y0, y1) and the border band width b (docs/photos.md 5.2). */
export function framingRegions(w: number, h: number): { x0: number; y0: number; x1: number; y1: number; band: number } {
  const qx = Math.floor(w / 4);
  const qy = Math.floor(h / 4);
  return { x0: qx, y0: qy, x1: w - qx, y1: h - qy, band: Math.max(1, Math.floor(Math.min(w, h) / 8)) };
}

function framingRatio(sums: Float64Array, w: number, h: number, area: number): number {
  const { x0, y0, x1, y1, band } = framingRegions(w, h);
  const inBorder = (x: number, y: number) => x < band || x >= w - band || y < band || y >= h - band;
  let cN = 0;
  let cSum = 0;
  let bN = 0;
  let bSum = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = sums[y * w + x]!;
      if (inBorder(x, y)) {
        bN++;
        bSum += s;
      }
      if (y >= y0 && y < y1 && x >= x0 && x < x1) {
        cN++;
        cSum += s;
      }
    }
  }
  const cMean = cSum / cN;
  const bMean = bSum / bN;
  let cSq = 0;
  let bSq = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = sums[y * w + x]!;
      if (inBorder(x, y)) bSq += (s - bMean) * (s - bMean);
      if (y >= y0 && y < y1 && x >= x0 && x < x1) cSq += (s - cMean) * (s - cMean);
    }
  }
  const centreSd = Math.sqrt(cSq / cN) / area;
  const borderSd = Math.sqrt(bSq / bN) / area;
  return centreSd / Math.max(borderSd, 1.0);
}

function checkPixels(pixels: RgbaPixels): void {
  if (pixels === null || typeof pixels !== "object") throw new TypeError("assessQuality expects RGBA pixels (ImageData-like)");
  const { width, height, data } = pixels;
  if (!(data instanceof Uint8ClampedArray || data instanceof Uint8Array)) throw new TypeError("assessQuality expects 8-bit RGBA data");
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
    throw new RangeError("assessQuality expects positive integer dimensions");
  }
  if (data.length !== width * height * 4) throw new RangeError("assessQuality: data length is not width * height * 4");
}

/** Compute every metric for upright RGBA pixels. */
export function measure(pixels: RgbaPixels, settings: QualitySettings = DEFAULT_QUALITY_SETTINGS): QualityMetrics {
  checkPixels(pixels);
  const { width, height } = pixels;
  const k = analysisFactor(width, height, settings.analysisLongEdge);
  const analysis = blockSums(pixels, k);
  const w = Math.floor(width / k);
  const h = Math.floor(height / k);
  const base = { width, height, analysisFactor: k, analysisWidth: w, analysisHeight: h };
  if (analysis === null) {
    return { ...base, sharpness: null, meanBrightness: null, clippedDark: null, clippedBright: null, framingRatio: null };
  }
  const { sums } = analysis;
  const area = k * k;
  const count = w * h;
  // Comparisons on block sums are exact: mean <= level <=> S <= level * k^2.
  const darkLimit = settings.clipDarkLevel * area;
  const brightLimit = settings.clipBrightLevel * area;
  let dark = 0;
  let bright = 0;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const s = sums[i]!;
    total += s;
    if (s <= darkLimit) dark++;
    if (s >= brightLimit) bright++;
  }
  const measurable = Math.min(w, h) >= MIN_ANALYSIS_EDGE;
  return {
    ...base,
    sharpness: measurable ? laplacianVariance(sums, w, h, area) : null,
    meanBrightness: total / (count * area),
    clippedDark: dark / count,
    clippedBright: bright / count,
    framingRatio: measurable ? framingRatio(sums, w, h, area) : null,
  };
}

/** Apply the thresholds (strict comparisons, docs/photos.md 5.3) in the documented order. */
export function judge(metrics: QualityMetrics, settings: QualitySettings = DEFAULT_QUALITY_SETTINGS): { verdict: Verdict; reasons: Reason[] } {
  const reasons: Reason[] = [];
  if (metrics.sharpness !== null && metrics.sharpness < settings.minSharpness) reasons.push("blurred");
  if (metrics.meanBrightness !== null && metrics.clippedBright !== null && metrics.clippedDark !== null) {
    if (metrics.clippedBright > settings.maxClippedShare || metrics.meanBrightness > settings.maxMean) reasons.push("over_exposed");
    if (metrics.clippedDark > settings.maxClippedShare || metrics.meanBrightness < settings.minMean) reasons.push("under_exposed");
  }
  if (Math.min(metrics.width, metrics.height) < settings.minShortEdge) reasons.push("low_resolution");
  if (metrics.framingRatio !== null && metrics.framingRatio < settings.minFramingRatio) reasons.push("framing");
  return { verdict: reasons.length > 0 ? "warn" : "ok", reasons };
}

/** Measure upright RGBA pixels (e.g. an ImageData) and judge them against `settings`. */
export function assessQuality(pixels: RgbaPixels, settings: QualitySettings = DEFAULT_QUALITY_SETTINGS): QualityReport {
  settings = qualitySettings(settings); // validated again: a literal may not have been checked
  const metrics = measure(pixels, settings);
  const { verdict, reasons } = judge(metrics, settings);
  return Object.freeze({ verdict, reasons: Object.freeze(reasons), metrics: Object.freeze(metrics) });
}
