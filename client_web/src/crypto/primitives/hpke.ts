/**
 * RFC 9180 HPKE, base mode, single-shot (sequence number 0), with @hpke/core doing the work in
 * WebCrypto. Default suite: DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM (0x0010,
 * 0x0001, 0x0002), the suite of every key wrap in docs/protocol.md. Port of
 * crypto/primitives/hpke.py (which implements the same RFC itself, so the two sides are
 * independent implementations checked against the same RFC vectors and against each other).
 *
 * - `hpkeSealBase` validates the recipient's point (65-byte uncompressed, on the curve) before
 *   anything else; `ikmE` injects the ephemeral key material (RFC 9180 DeriveKeyPair input) so
 *   RFC vectors and our own vectors can be reproduced exactly. Production code omits it and a
 *   fresh ephemeral pair is drawn inside @hpke/core.
 * - `hpkeOpenBase` takes the recipient's private key as a non-extractable WebCrypto key plus its
 *   public point (needed for the KEM context, RFC 9180 section 4.1, without exporting the
 *   private key). Any failure (bad enc point, wrong key, wrong info or aad, bad tag) is one
 *   PrimitiveError.
 * - `dhkemP256SharedSecret` and `keyScheduleBase` re-derive the KEM shared secret and the key
 *   schedule (key, base_nonce) from our own primitives; they exist for the RFC vector tests.
 */
import {
  Aes128Gcm,
  Aes256Gcm,
  CipherSuite,
  DhkemP256HkdfSha256,
  DhkemX25519HkdfSha256,
  HkdfSha256,
} from "@hpke/core";
import { bs, concat, requireBytes } from "../bytes";
import { PrimitiveError } from "../errors";
import { importP256Private, importP256Public, p256CheckPublic, p256PublicKey } from "./ecc";
import { hpkeSuiteId, kemSuiteId, labeledExpand, labeledExtract } from "./labeled";

export const KEM_P256 = 0x0010;
export const KEM_X25519 = 0x0020;
export const KDF_HKDF_SHA256 = 0x0001;
export const AEAD_AES128GCM = 0x0001;
export const AEAD_AES256GCM = 0x0002;

export interface HpkeSuite {
  readonly kemId: number;
  readonly kdfId: number;
  readonly aeadId: number;
  readonly cipherSuite: CipherSuite;
}

function makeSuite(kemId: number, aeadId: number): HpkeSuite {
  const kem = kemId === KEM_P256 ? new DhkemP256HkdfSha256() : new DhkemX25519HkdfSha256();
  const aead = aeadId === AEAD_AES256GCM ? new Aes256Gcm() : new Aes128Gcm();
  return {
    kemId,
    kdfId: KDF_HKDF_SHA256,
    aeadId,
    cipherSuite: new CipherSuite({ kem, kdf: new HkdfSha256(), aead }),
  };
}

/** DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM: the protocol's suite. */
export const DEFAULT_SUITE: HpkeSuite = makeSuite(KEM_P256, AEAD_AES256GCM);
/** Other RFC 9180 suites, only for the RFC test vectors. */
export const SUITES = {
  p256Aes128: makeSuite(KEM_P256, AEAD_AES128GCM),
  p256Aes256: DEFAULT_SUITE,
  x25519Aes128: makeSuite(KEM_X25519, AEAD_AES128GCM),
  x25519Aes256: makeSuite(KEM_X25519, AEAD_AES256GCM),
} as const;

export interface HpkeSealed {
  /** The encapsulated ephemeral public key (65 bytes for P-256). */
  enc: Uint8Array;
  /** ciphertext || tag */
  ct: Uint8Array;
}

/** A recipient's key: the private key (non-extractable CryptoKey) and its public encoding. */
export interface HpkeRecipient {
  privateKey: CryptoKey;
  publicKey: Uint8Array;
}

/** Build a recipient from a 32-byte P-256 scalar (public point computed if not given). */
export async function hpkeRecipientFromScalar(
  sk: Uint8Array,
  pk?: Uint8Array,
): Promise<HpkeRecipient> {
  const publicKey = pk ?? (await p256PublicKey(sk));
  return { privateKey: await importP256Private(sk, "ECDH", publicKey), publicKey };
}

async function publicKeyFor(suite: HpkeSuite, pk: Uint8Array): Promise<CryptoKey> {
  if (suite.kemId === KEM_P256) {
    return importP256Public(pk, "ECDH");
  }
  try {
    return await suite.cipherSuite.kem.deserializePublicKey(bs(pk));
  } catch {
    throw new PrimitiveError();
  }
}

/** HPKE base-mode single-shot seal: returns { enc, ct }. */
export async function hpkeSealBase(
  pkR: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  opts: { ikmE?: Uint8Array; suite?: HpkeSuite } = {},
): Promise<HpkeSealed> {
  requireBytes("info", info);
  requireBytes("aad", aad);
  requireBytes("plaintext", plaintext);
  const suite = opts.suite ?? DEFAULT_SUITE;
  const recipientPublicKey = await publicKeyFor(suite, requireBytes("pkR", pkR));
  if (opts.ikmE !== undefined) {
    requireBytes("ikmE", opts.ikmE);
    if (opts.ikmE.length < 32) throw new RangeError("ikmE must be at least 32 bytes");
  }
  const ctx = await suite.cipherSuite.createSenderContext({
    recipientPublicKey,
    info: bs(info),
    ...(opts.ikmE !== undefined ? { ekm: bs(opts.ikmE) } : {}),
  });
  const ct = new Uint8Array(await ctx.seal(bs(plaintext), bs(aad)));
  return { enc: new Uint8Array(ctx.enc), ct };
}

/** HPKE base-mode single-shot open; PrimitiveError on any failure. */
export async function hpkeOpenBase(
  recipient: HpkeRecipient | CryptoKeyPair,
  enc: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  ct: Uint8Array,
  opts: { suite?: HpkeSuite } = {},
): Promise<Uint8Array> {
  requireBytes("enc", enc);
  requireBytes("info", info);
  requireBytes("aad", aad);
  requireBytes("ct", ct);
  const suite = opts.suite ?? DEFAULT_SUITE;
  let recipientKey: CryptoKeyPair;
  if (recipient.publicKey instanceof Uint8Array) {
    recipientKey = {
      privateKey: recipient.privateKey,
      publicKey: await publicKeyFor(suite, recipient.publicKey),
    };
  } else {
    recipientKey = recipient as CryptoKeyPair;
  }
  if (suite.kemId === KEM_P256) {
    // Validate the peer's ephemeral point ourselves (same rules as every other public key).
    p256CheckPublic(enc);
  }
  try {
    const ctx = await suite.cipherSuite.createRecipientContext({
      recipientKey,
      enc: bs(enc),
      info: bs(info),
    });
    return new Uint8Array(await ctx.open(bs(ct), bs(aad)));
  } catch {
    throw new PrimitiveError();
  }
}

/**
 * DHKEM(P-256) shared secret from the raw DH output (RFC 9180 section 4.1 ExtractAndExpand with
 * kem_context = enc || pkRm). For the RFC vector tests.
 */
export async function dhkemP256SharedSecret(
  dh: Uint8Array,
  enc: Uint8Array,
  pkRm: Uint8Array,
): Promise<Uint8Array> {
  const suiteId = kemSuiteId(KEM_P256);
  const eaePrk = await labeledExtract(suiteId, new Uint8Array(0), "eae_prk", dh);
  return labeledExpand(suiteId, eaePrk, "shared_secret", concat(enc, pkRm), 32);
}

/** RFC 9180 section 5.1 KeySchedule for mode_base (no PSK): { key, baseNonce }. */
export async function keyScheduleBase(
  sharedSecret: Uint8Array,
  info: Uint8Array,
  suite: HpkeSuite = DEFAULT_SUITE,
): Promise<{ key: Uint8Array; baseNonce: Uint8Array }> {
  const sid = hpkeSuiteId(suite.kemId, suite.kdfId, suite.aeadId);
  const empty = new Uint8Array(0);
  const pskIdHash = await labeledExtract(sid, empty, "psk_id_hash", empty);
  const infoHash = await labeledExtract(sid, empty, "info_hash", info);
  const context = concat(new Uint8Array([0]), pskIdHash, infoHash);
  const secret = await labeledExtract(sid, sharedSecret, "secret", empty);
  const nk = suite.aeadId === AEAD_AES256GCM ? 32 : 16;
  const key = await labeledExpand(sid, secret, "key", context, nk);
  const baseNonce = await labeledExpand(sid, secret, "base_nonce", context, 12);
  return { key, baseNonce };
}
