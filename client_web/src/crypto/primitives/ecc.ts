/**
 * P-256 over WebCrypto: keys, ECDH, ECDSA; port of crypto/primitives/ecc.py.
 *
 * Wire conventions (shared with the Python core):
 * - private key: 32-byte big-endian scalar d with 1 <= d < n;
 * - public key: 65-byte uncompressed SEC1 point 0x04 || X || Y (SEC1 v2 section 2.3.3).
 *   Compressed points and the point at infinity are refused so that every key has exactly one
 *   encoding (key ids hash the SPKI);
 * - ECDSA signature: IEEE P1363 r || s, 64 bytes (WebCrypto's own form);
 * - key generation: RFC 9180 section 7.1.3 DeriveKeyPair(ikm) from caller-supplied randomness.
 *
 * Signing. Python signs with RFC 6979 (deterministic k) so its vectors are reproducible.
 * WebCrypto's ECDSA draws a random k; both are valid ECDSA and verify identically, and the
 * protocol never relies on a signature's bytes being unique. Signing in the browser therefore
 * uses WebCrypto (constant-time native code) and never a JavaScript big-number implementation,
 * which would leak the key through timing. Functions that sign take a `Signer`, so tests can
 * inject an RFC 6979 signer to reproduce the Python vectors byte for byte.
 *
 * Private keys are imported into WebCrypto non-extractable. With the public point known the
 * import is the JWK {kty:"EC", crv:"P-256", d, x, y}; without it, an RFC 5915 ECPrivateKey in
 * PKCS #8 that omits the optional public key (the engine recomputes it).
 *
 * Errors: our own arguments (a private key, ikm) raise TypeError/RangeError when malformed;
 * anything a peer or storage hands us (a public key, a signature, DER) raises PrimitiveError.
 */
import {
  bigIntToBytes,
  bs,
  bytesToBigInt,
  concat,
  equalBytes,
  fromBase64Url,
  fromHex,
  requireBytes,
  requireLength,
  toBase64Url,
} from "../bytes";
import { PrimitiveError } from "../errors";
import { kemSuiteId, labeledExpand, labeledExtract } from "./labeled";

/** Order of the P-256 base point (SEC 2 v2 section 2.4.2). */
export const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
/** Field prime and curve coefficient b (a = -3). */
const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
export const P256_SCALAR_LEN = 32;
export const P256_PUBLIC_LEN = 65;
export const P256_SIGNATURE_LEN = 64;

const KEM_P256 = kemSuiteId(0x0010); // DHKEM(P-256, HKDF-SHA256), RFC 9180 section 7.1
// DER prefixes (RFC 5480 / RFC 5915 / RFC 5208) for id-ecPublicKey + prime256v1.
const SPKI_PREFIX = fromHex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
const PKCS8_PREFIX = fromHex("304102010030130607" + "2a8648ce3d020106082a8648ce3d030107042730250201010420");

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** A function producing a 64-byte P1363 ECDSA P-256/SHA-256 signature over `message`. */
export type Signer = (message: Uint8Array) => Promise<Uint8Array>;

function checkScalar(sk: unknown): Uint8Array {
  const b = requireLength("sk", sk, P256_SCALAR_LEN);
  const d = bytesToBigInt(b);
  if (d < 1n || d >= P256_N) {
    throw new RangeError("sk is not a valid P-256 scalar");
  }
  return b;
}

/**
 * Validate a peer's public key: 65 bytes, 0x04 prefix, coordinates below p, on the curve.
 * P-256 has cofactor 1, so that is full public-key validation (SEC1 v2 section 3.2.2.1). The
 * check is done here in full (public data, so big-number timing does not matter) rather than
 * trusting every engine's import, so all browsers reject the same inputs.
 */
export function p256CheckPublic(pk: Uint8Array): void {
  requireBytes("pk", pk);
  if (pk.length !== P256_PUBLIC_LEN || pk[0] !== 0x04) {
    throw new PrimitiveError();
  }
  const x = bytesToBigInt(pk.subarray(1, 33));
  const y = bytesToBigInt(pk.subarray(33, 65));
  if (x >= P256_P || y >= P256_P) {
    throw new PrimitiveError();
  }
  const rhs = (((x * x) % P256_P) * x - 3n * x + P256_B) % P256_P;
  const lhs = (y * y) % P256_P;
  if ((rhs + P256_P) % P256_P !== lhs) {
    throw new PrimitiveError();
  }
}

/** Import a validated public key for "ECDH" (usage none) or "ECDSA" (verify). */
export async function importP256Public(
  pk: Uint8Array,
  alg: "ECDH" | "ECDSA",
): Promise<CryptoKey> {
  p256CheckPublic(pk);
  try {
    return await subtle().importKey(
      "raw",
      bs(pk),
      { name: alg, namedCurve: "P-256" },
      true,
      alg === "ECDSA" ? ["verify"] : [],
    );
  } catch {
    throw new PrimitiveError();
  }
}

/**
 * Import a private scalar as a non-extractable WebCrypto key. With `pk` the JWK form is used;
 * without it, PKCS #8 without the optional public key.
 */
export async function importP256Private(
  sk: Uint8Array,
  alg: "ECDH" | "ECDSA",
  pk?: Uint8Array,
): Promise<CryptoKey> {
  checkScalar(sk);
  const usages: KeyUsage[] = alg === "ECDSA" ? ["sign"] : ["deriveBits"];
  const algorithm = { name: alg, namedCurve: "P-256" };
  if (pk !== undefined) {
    requireLength("pk", pk, P256_PUBLIC_LEN);
    if (pk[0] !== 0x04) throw new RangeError("pk must be an uncompressed point");
    const jwk: JsonWebKey = {
      kty: "EC",
      crv: "P-256",
      d: toBase64Url(sk),
      x: toBase64Url(pk.subarray(1, 33)),
      y: toBase64Url(pk.subarray(33, 65)),
      ext: false,
    };
    return subtle().importKey("jwk", jwk, algorithm, false, usages);
  }
  return subtle().importKey("pkcs8", concat(PKCS8_PREFIX, sk), algorithm, false, usages);
}

/** The 65-byte uncompressed public point of the 32-byte scalar `sk`. */
export async function p256PublicKey(sk: Uint8Array): Promise<Uint8Array> {
  checkScalar(sk);
  // WebCrypto has no "public from private" call: import the scalar (extractable, for this call
  // only) and read x, y back from its JWK export.
  const key = await subtle().importKey(
    "pkcs8",
    concat(PKCS8_PREFIX, sk),
    { name: "ECDH", namedCurve: "P-256" },
    true,
    ["deriveBits"],
  );
  const jwk = await subtle().exportKey("jwk", key);
  const pk = concat(new Uint8Array([0x04]), fromBase64Url(jwk.x ?? ""), fromBase64Url(jwk.y ?? ""));
  if (pk.length !== P256_PUBLIC_LEN) {
    throw new Error("engine returned a malformed public key");
  }
  return pk;
}

/**
 * RFC 9180 section 7.1.3 DeriveKeyPair for DHKEM(P-256, HKDF-SHA256): [sk32, pk65].
 * `ikm` must hold at least 32 bytes of fresh randomness.
 */
export async function p256DeriveKeypair(ikm: Uint8Array): Promise<[Uint8Array, Uint8Array]> {
  requireBytes("ikm", ikm);
  if (ikm.length < P256_SCALAR_LEN) {
    throw new RangeError("ikm must be at least 32 bytes");
  }
  const dkpPrk = await labeledExtract(KEM_P256, new Uint8Array(0), "dkp_prk", ikm);
  // Rejection sampling; the P-256 bitmask is 0xff (no masking).
  for (let counter = 0; counter < 256; counter++) {
    const candidate = await labeledExpand(
      KEM_P256,
      dkpPrk,
      "candidate",
      new Uint8Array([counter]),
      32,
    );
    const d = bytesToBigInt(candidate);
    if (d > 0n && d < P256_N) {
      return [candidate, await p256PublicKey(candidate)];
    }
  }
  throw new RangeError("DeriveKeyPair failed");
}

/** DER SubjectPublicKeyInfo (RFC 5480) of `pk`: 91 bytes, what exportKey("spki") gives. */
export function p256SpkiDer(pk: Uint8Array): Uint8Array {
  p256CheckPublic(pk);
  return concat(SPKI_PREFIX, pk);
}

/** Parse a P-256 SPKI DER; the only accepted form is the fixed 26-byte prefix + point. */
export function p256PublicFromSpkiDer(der: Uint8Array): Uint8Array {
  requireBytes("der", der);
  if (der.length !== SPKI_PREFIX.length + P256_PUBLIC_LEN) throw new PrimitiveError();
  if (!equalBytes(der.subarray(0, SPKI_PREFIX.length), SPKI_PREFIX)) throw new PrimitiveError();
  const pk = der.slice(SPKI_PREFIX.length);
  p256CheckPublic(pk);
  return pk;
}

/**
 * Convert a JWK public key (RFC 7518 section 6.2.1) to the 65-byte point, strictly: kty "EC",
 * crv "P-256", x and y unpadded base64url of exactly 32 bytes, no private part. Anything else
 * raises PrimitiveError.
 */
export function p256PublicFromJwk(jwk: unknown): Uint8Array {
  if (typeof jwk !== "object" || jwk === null) throw new PrimitiveError();
  const j = jwk as Record<string, unknown>;
  if (j.kty !== "EC" || j.crv !== "P-256" || "d" in j) throw new PrimitiveError();
  if (typeof j.x !== "string" || typeof j.y !== "string") throw new PrimitiveError();
  let x: Uint8Array;
  let y: Uint8Array;
  try {
    x = fromBase64Url(j.x);
    y = fromBase64Url(j.y);
  } catch {
    throw new PrimitiveError();
  }
  if (x.length !== 32 || y.length !== 32) throw new PrimitiveError();
  const pk = concat(new Uint8Array([0x04]), x, y);
  p256CheckPublic(pk);
  return pk;
}

/**
 * ECDH over P-256 (SP 800-56A ECC CDH): the 32-byte x-coordinate of d*Q. `pk` is fully
 * validated first; an invalid one raises PrimitiveError (defeats invalid-curve attacks).
 */
export async function p256Ecdh(sk: Uint8Array | CryptoKey, pk: Uint8Array): Promise<Uint8Array> {
  const priv = sk instanceof Uint8Array ? await importP256Private(sk, "ECDH") : sk;
  const pub = await importP256Public(pk, "ECDH");
  try {
    return new Uint8Array(
      await subtle().deriveBits({ name: "ECDH", public: pub }, priv, 256),
    );
  } catch {
    throw new PrimitiveError();
  }
}

function splitP1363(signature: Uint8Array): [bigint, bigint] {
  // r and s must be in [1, n-1] (FIPS 186-5 section 6.4.2 step 1), so no non-canonical
  // encoding (r + n, s + n, zero) can pass.
  if (signature.length !== P256_SIGNATURE_LEN) throw new PrimitiveError();
  const r = bytesToBigInt(signature.subarray(0, 32));
  const s = bytesToBigInt(signature.subarray(32));
  if (r < 1n || r >= P256_N || s < 1n || s >= P256_N) throw new PrimitiveError();
  return [r, s];
}

/** ECDSA P-256/SHA-256 with WebCrypto (random k); 64-byte P1363 r || s. */
export async function p256Sign(
  sk: Uint8Array | CryptoKey,
  message: Uint8Array,
): Promise<Uint8Array> {
  requireBytes("message", message);
  const key = sk instanceof Uint8Array ? await importP256Private(sk, "ECDSA") : sk;
  const sig = await subtle().sign({ name: "ECDSA", hash: "SHA-256" }, key, bs(message));
  return new Uint8Array(sig);
}

/** A Signer over a WebCrypto ECDSA private key (the production signer). */
export function webCryptoSigner(key: CryptoKey): Signer {
  return (message) => p256Sign(key, message);
}

/**
 * Verify a 64-byte P1363 ECDSA P-256/SHA-256 signature; resolves if valid. PrimitiveError for
 * an invalid public key, a signature not exactly 64 bytes, r or s outside [1, n-1], or a
 * signature that does not verify.
 */
export async function p256Verify(
  pk: Uint8Array | CryptoKey,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<void> {
  requireBytes("message", message);
  requireBytes("signature", signature);
  const key = pk instanceof Uint8Array ? await importP256Public(pk, "ECDSA") : pk;
  splitP1363(signature);
  let ok: boolean;
  try {
    ok = await subtle().verify({ name: "ECDSA", hash: "SHA-256" }, key, bs(signature), bs(message));
  } catch {
    throw new PrimitiveError();
  }
  if (!ok) throw new PrimitiveError();
}

/**
 * Convert a DER Ecdsa-Sig-Value (RFC 3279) to 64-byte P1363. Strict DER (X.690 section 10):
 * definite short-form lengths only (a P-256 signature is at most 72 bytes), minimal positive
 * INTEGERs, no trailing bytes; r and s in [1, n-1]. Anything else raises PrimitiveError.
 */
export function derToP1363(signature: Uint8Array): Uint8Array {
  requireBytes("signature", signature);
  const d = signature;
  if (d.length < 2 || d[0] !== 0x30 || d[1]! >= 0x80 || d[1] !== d.length - 2) {
    throw new PrimitiveError();
  }
  let o = 2;
  const readInt = (): bigint => {
    if (o + 2 > d.length || d[o] !== 0x02) throw new PrimitiveError();
    const len = d[o + 1]!;
    if (len === 0 || len >= 0x80 || o + 2 + len > d.length) throw new PrimitiveError();
    const body = d.subarray(o + 2, o + 2 + len);
    if (body[0]! & 0x80) throw new PrimitiveError(); // negative
    if (len > 1 && body[0] === 0 && !(body[1]! & 0x80)) throw new PrimitiveError(); // padded
    o += 2 + len;
    return bytesToBigInt(body);
  };
  const r = readInt();
  const s = readInt();
  if (o !== d.length) throw new PrimitiveError();
  if (r < 1n || r >= P256_N || s < 1n || s >= P256_N) throw new PrimitiveError();
  return concat(bigIntToBytes(r, 32), bigIntToBytes(s, 32));
}

/** Convert a 64-byte P1363 signature to DER; PrimitiveError if r or s is out of range. */
export function p1363ToDer(signature: Uint8Array): Uint8Array {
  requireBytes("signature", signature);
  const [r, s] = splitP1363(signature);
  const enc = (v: bigint): Uint8Array => {
    let b = bigIntToBytes(v, 33);
    let i = 0;
    while (i < 32 && b[i] === 0 && !(b[i + 1]! & 0x80)) i++;
    b = b.slice(i);
    return concat(new Uint8Array([0x02, b.length]), b);
  };
  const body = concat(enc(r), enc(s));
  return concat(new Uint8Array([0x30, body.length]), body);
}
