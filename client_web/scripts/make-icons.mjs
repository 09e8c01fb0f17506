// Generates the web app manifest icons as PNG files (run: `npm run icons`; output committed in
// public/icons/). No image tooling is needed: the PNG is written by hand with node:zlib.
// The icon is a white "D" on NHS blue (#005EB8); the maskable variant keeps the glyph inside
// the 80% safe zone required by the W3C manifest spec ("purpose": "maskable").
import { mkdirSync, writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";

const BLUE = [0x00, 0x5e, 0xb8];
const WHITE = [0xff, 0xff, 0xff];

function crc32(buf) {
  let c;
  let crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** True when pixel (x, y) of a size x size icon belongs to the "D" glyph. */
function inGlyph(x, y, size, scale) {
  // Normalised coordinates in [-1, 1] around the centre, divided by the glyph scale.
  const u = ((x + 0.5) / size - 0.5) * 2 / scale;
  const v = ((y + 0.5) / size - 0.5) * 2 / scale;
  const stroke = 0.22;
  if (Math.abs(v) > 0.8) return false;
  if (u >= -0.6 && u <= -0.6 + stroke) return true; // the upright
  if (u < -0.6 + stroke) return false;
  // The bowl: an elliptical ring from the upright to the right.
  const cx = -0.6 + stroke;
  const rx = 1.15;
  const ry = 0.8;
  const outer = ((u - cx) / rx) ** 2 + (v / ry) ** 2 <= 1;
  const inner = ((u - cx) / (rx - stroke)) ** 2 + (v / (ry - stroke)) ** 2 <= 1;
  return outer && !inner;
}

function png(size, scale) {
  const raw = Buffer.alloc((size * 3 + 1) * size);
  for (let y = 0; y < size; y++) {
    const row = y * (size * 3 + 1);
    raw[row] = 0; // filter type None
    for (let x = 0; x < size; x++) {
      const [r, g, b] = inGlyph(x, y, size, scale) ? WHITE : BLUE;
      raw[row + 1 + x * 3] = r;
      raw[row + 2 + x * 3] = g;
      raw[row + 3 + x * 3] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    sig,
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const out = new URL("../public/icons/", import.meta.url);
mkdirSync(out, { recursive: true });
writeFileSync(new URL("icon-192.png", out), png(192, 0.8));
writeFileSync(new URL("icon-512.png", out), png(512, 0.8));
writeFileSync(new URL("icon-maskable-512.png", out), png(512, 0.6));
console.log("icons written to public/icons/");
