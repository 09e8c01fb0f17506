/**
 * Tunable numbers of the photo pipeline, the same values as client_py/photo/settings.py (every
 * number is documented with its reason in docs/photos.md sections 2, 4 and 5.3). The defaults are
 * the product's values; tests pass their own frozen objects made with `photoSettings` /
 * `qualitySettings`, which validate like Python's `__post_init__` (RangeError for bad values).
 */

export interface PhotoSettings {
  /** Refuse bigger files before decoding (a 12 MP phone JPEG is 3-8 MB; a 12 MP PNG ~20 MB). */
  readonly maxInputBytes: number;
  /** Refuse a larger declared width x height before decoding (bomb guard; 50 MP sensors fit). */
  readonly maxPixels: number;
  /** Long edge of the prepared photo (never upscaled). */
  readonly longEdge: number;
  /** JPEG quality 1..95, as Pillow's scale; the canvas gets `jpegQuality / 100`. */
  readonly jpegQuality: number;
  readonly thumbLongEdge: number;
  readonly thumbQuality: number;
}

export interface QualitySettings {
  /** The analysis image is the grey original reduced by k = ceil(long edge / this). */
  readonly analysisLongEdge: number;
  /** Variance of the Laplacian below this -> `blurred` (provisional, docs/photos.md 8). */
  readonly minSharpness: number;
  /** An analysis pixel whose mean grey is <= this is clipped dark. */
  readonly clipDarkLevel: number;
  /** An analysis pixel whose mean grey is >= this is clipped bright. */
  readonly clipBrightLevel: number;
  /** More than this share of clipped bright (dark) pixels -> over (under) exposed. */
  readonly maxClippedShare: number;
  /** Mean grey below this -> `under_exposed`. */
  readonly minMean: number;
  /** Mean grey above this -> `over_exposed`. */
  readonly maxMean: number;
  /** Short edge of the upright original below this -> `low_resolution`. */
  readonly minShortEdge: number;
  /** Centre contrast / border contrast below this -> `framing`. */
  readonly minFramingRatio: number;
}

function positiveInt(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`PhotoSettings.${name} must be a positive integer`);
}

function finite(name: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new RangeError(`QualitySettings.${name} must be a finite number`);
}

/** A validated, frozen PhotoSettings: the defaults with `overrides` applied. */
export function photoSettings(overrides: Partial<PhotoSettings> = {}): PhotoSettings {
  const s: PhotoSettings = {
    maxInputBytes: 40 * 1024 * 1024,
    maxPixels: 64_000_000,
    longEdge: 2048,
    jpegQuality: 85,
    thumbLongEdge: 320,
    thumbQuality: 80,
    ...overrides,
  };
  for (const name of ["maxInputBytes", "maxPixels", "longEdge", "thumbLongEdge"] as const) positiveInt(name, s[name]);
  for (const name of ["jpegQuality", "thumbQuality"] as const) {
    // Pillow documents values above 95 as wasteful; the same range keeps both sides comparable.
    if (!Number.isInteger(s[name]) || s[name] < 1 || s[name] > 95) throw new RangeError(`PhotoSettings.${name} must be an integer in 1..95`);
  }
  if (s.thumbLongEdge > s.longEdge) throw new RangeError("PhotoSettings.thumbLongEdge must not exceed longEdge");
  return Object.freeze(s);
}

/** A validated, frozen QualitySettings: the defaults with `overrides` applied. */
export function qualitySettings(overrides: Partial<QualitySettings> = {}): QualitySettings {
  const s: QualitySettings = {
    analysisLongEdge: 512,
    minSharpness: 40.0,
    clipDarkLevel: 5,
    clipBrightLevel: 250,
    maxClippedShare: 0.05,
    minMean: 40.0,
    maxMean: 215.0,
    minShortEdge: 720,
    minFramingRatio: 1.0,
    ...overrides,
  };
  for (const [name, value] of Object.entries(s)) finite(name, value as number);
  if (!Number.isSafeInteger(s.analysisLongEdge) || s.analysisLongEdge < 8) {
    throw new RangeError("QualitySettings.analysisLongEdge must be an integer >= 8");
  }
  if (!(Number.isInteger(s.clipDarkLevel) && Number.isInteger(s.clipBrightLevel))) {
    throw new RangeError("QualitySettings clip levels must be integers");
  }
  if (!(0 <= s.clipDarkLevel && s.clipDarkLevel < s.clipBrightLevel && s.clipBrightLevel <= 255)) {
    throw new RangeError("QualitySettings clip levels must satisfy 0 <= dark < bright <= 255");
  }
  if (!(0 <= s.maxClippedShare && s.maxClippedShare <= 1)) throw new RangeError("QualitySettings.maxClippedShare must be in [0, 1]");
  if (!(0 <= s.minMean && s.minMean <= s.maxMean && s.maxMean <= 255)) {
    throw new RangeError("QualitySettings mean bounds must satisfy 0 <= min <= max <= 255");
  }
  if (s.minSharpness < 0 || s.minShortEdge < 0 || s.minFramingRatio < 0) throw new RangeError("QualitySettings values must not be negative");
  return Object.freeze(s);
}

export const DEFAULT_PHOTO_SETTINGS: PhotoSettings = photoSettings();
export const DEFAULT_QUALITY_SETTINGS: QualitySettings = qualitySettings();
