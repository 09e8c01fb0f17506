/**
 * RFC 9180 LabeledExtract / LabeledExpand with HKDF-SHA256 (section 4), shared by key
 * derivation (DeriveKeyPair, section 7.1.3) and the HPKE tests. Port of
 * crypto/primitives/_labeled.py.
 */
import { concat, u16be, utf8 } from "../bytes";
import { hkdfSha256Expand, hkdfSha256Extract } from "./kdf";

const HPKE_V1 = utf8.encode("HPKE-v1");

/** "KEM" || I2OSP(kem_id, 2) (RFC 9180 section 4.1). */
export function kemSuiteId(kemId: number): Uint8Array {
  return concat(utf8.encode("KEM"), u16be(kemId));
}

/** "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2) (section 5.1). */
export function hpkeSuiteId(kemId: number, kdfId: number, aeadId: number): Uint8Array {
  return concat(utf8.encode("HPKE"), u16be(kemId), u16be(kdfId), u16be(aeadId));
}

export function labeledExtract(
  suiteId: Uint8Array,
  salt: Uint8Array,
  label: string,
  ikm: Uint8Array,
): Promise<Uint8Array> {
  return hkdfSha256Extract(salt, concat(HPKE_V1, suiteId, utf8.encode(label), ikm));
}

export function labeledExpand(
  suiteId: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const labeledInfo = concat(u16be(length), HPKE_V1, suiteId, utf8.encode(label), info);
  return hkdfSha256Expand(prk, labeledInfo, length);
}
