/**
 * A strict RFC 8259 JSON parser for decrypted message bodies, matching what crypto/content.py
 * accepts with Python's json module (object_pairs_hook refusing duplicate keys, no NaN or
 * Infinity), which JSON.parse cannot express:
 *
 * - duplicate keys in an object are an error (JSON.parse keeps the last one silently);
 * - numbers keep their kind: an integer literal (no fraction, no exponent) becomes a
 *   `JsonInt` holding a bigint, anything else a `JsonFloat`, because Python tells 1 from 1.0
 *   and the schemas accept only integers;
 * - no NaN/Infinity, no comments, no trailing commas, no control characters in strings,
 *   only JSON whitespace; lone surrogate escapes are kept (Python keeps them too);
 * - nesting is capped (MAX_DEPTH); bodies deeper than that are refused (Python would hit
 *   its recursion limit and refuse them too; no valid schema nests more than 3 levels).
 *
 * Throws `JsonSyntaxError` on any problem.
 */

export class JsonSyntaxError extends Error {
  constructor() {
    super("invalid JSON");
    this.name = "JsonSyntaxError";
  }
}

export class JsonInt {
  constructor(readonly value: bigint) {}
}
export class JsonFloat {
  constructor(readonly value: number) {}
}

export type JsonValue =
  | null
  | boolean
  | string
  | JsonInt
  | JsonFloat
  | JsonValue[]
  | Map<string, JsonValue>;

const MAX_DEPTH = 64;

export function parseStrictJson(text: string): JsonValue {
  let i = 0;
  const fail = (): never => {
    throw new JsonSyntaxError();
  };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const str = (): string => {
    // precondition: text[i] === '"'
    i++;
    let out = "";
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return out;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        const e = text[i + 1];
        i += 2;
        switch (e) {
          case '"': out += '"'; break;
          case "\\": out += "\\"; break;
          case "/": out += "/"; break;
          case "b": out += "\b"; break;
          case "f": out += "\f"; break;
          case "n": out += "\n"; break;
          case "r": out += "\r"; break;
          case "t": out += "\t"; break;
          case "u": {
            const hex = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail();
            out += String.fromCharCode(Number.parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            fail();
        }
        continue;
      }
      out += text[i];
      i++;
    }
  };
  const num = (): JsonInt | JsonFloat => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (m === null || m[0].length === 0) return fail();
    i += m[0].length;
    if (m[2] === undefined && m[3] === undefined) return new JsonInt(BigInt(m[0]));
    const v = Number(m[0]);
    // Python's float() turns an overflowing literal into inf; json then yields inf, which no
    // schema accepts either way.
    return new JsonFloat(v);
  };
  const value = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail();
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const m = new Map<string, JsonValue>();
      ws();
      if (text[i] === "}") {
        i++;
        return m;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const k = str();
        ws();
        if (text[i] !== ":") fail();
        i++;
        const v = value(depth + 1);
        if (m.has(k)) fail();
        m.set(k, v);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return m;
        }
        fail();
      }
    }
    if (c === "[") {
      i++;
      const a: JsonValue[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return a;
      }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return a;
        }
        fail();
      }
    }
    if (c === '"') return str();
    if (text.startsWith("true", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return false;
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return null;
    }
    return num();
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail();
  return v;
}
