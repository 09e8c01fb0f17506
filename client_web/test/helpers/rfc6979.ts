/**
 * Test-only RFC 6979 deterministic ECDSA P-256 signer (@noble/curves, devDependency), so records
 * sealed by the browser port can be compared byte for byte with the Python vectors (pyca signs
 * with deterministic_signing=True). Production code signs with WebCrypto (random k); see
 * src/crypto/primitives/ecc.ts. lowS is off because pyca does not normalise s.
 */
import { p256 } from "@noble/curves/nist.js";
import type { Signer } from "../../src/crypto/primitives/ecc";

export function rfc6979Signer(privateKey: Uint8Array): Signer {
  return async (message) => p256.sign(message, privateKey, { lowS: false, prehash: true });
}
