/**
 * RFC 9180 Appendix A base-mode vectors (tests/vectors/hpke/rfc9180_base_selected.json):
 * DHKEM(P-256) and DHKEM(X25519), HKDF-SHA256, AES-128-GCM and AES-256-GCM.
 *
 * Through our layer: DeriveKeyPair (ours for P-256), the KEM shared secret and key schedule
 * re-derived from our primitives, single-shot seal with the injected ephemeral ikm (exact enc and
 * ct), single-shot open with the aad. Encryptions with sequence numbers above 0 are opened with
 * a @hpke/core recipient context (our wrapper is single-shot by design) and, for P-256, also with
 * our AES-GCM under the nonce base_nonce XOR seq (RFC 9180 section 5.2).
 */
import { describe, expect, it } from "vitest";
import { bs, concat, fromHex, toHex } from "../../src/crypto/bytes";
import { aes128gcmOpen, aes256gcmOpen } from "../../src/crypto/primitives/aead";
import { p256DeriveKeypair, p256Ecdh } from "../../src/crypto/primitives/ecc";
import {
  AEAD_AES256GCM,
  DEFAULT_SUITE,
  KEM_P256,
  SUITES,
  dhkemP256SharedSecret,
  hpkeOpenBase,
  hpkeRecipientFromScalar,
  hpkeSealBase,
  keyScheduleBase,
  type HpkeRecipient,
  type HpkeSuite,
} from "../../src/crypto/primitives/hpke";
import { outcome, loadVectors } from "../helpers/vectors";

interface Rfc9180Case {
  mode: number;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  info: string;
  ikmR: string;
  ikmE: string;
  skRm: string;
  skEm: string;
  pkRm: string;
  pkEm: string;
  enc: string;
  shared_secret: string;
  key: string;
  base_nonce: string;
  encryptions: { aad: string; ct: string; nonce: string; pt: string }[];
}

const cases = await loadVectors<Rfc9180Case[]>("hpke/rfc9180_base_selected.json");

function suiteOf(c: Rfc9180Case): HpkeSuite {
  const p = Number(c.kem_id) === KEM_P256;
  const a256 = Number(c.aead_id) === AEAD_AES256GCM;
  if (p) return a256 ? SUITES.p256Aes256 : SUITES.p256Aes128;
  return a256 ? SUITES.x25519Aes256 : SUITES.x25519Aes128;
}

describe("RFC 9180 base mode vectors", () => {
  it("has the four selected suites, all base mode with HKDF-SHA256", () => {
    expect(cases.length).toBe(4);
    for (const c of cases) {
      expect(Number(c.mode)).toBe(0);
      expect(Number(c.kdf_id)).toBe(1);
    }
  });

  for (const c of cases) {
    const label = `kem ${c.kem_id} aead ${c.aead_id}`;
    const suite = suiteOf(c);
    const info = fromHex(c.info);
    const isP256 = Number(c.kem_id) === KEM_P256;

    async function recipient(): Promise<HpkeRecipient | CryptoKeyPair> {
      if (isP256) return hpkeRecipientFromScalar(fromHex(c.skRm));
      return suite.cipherSuite.kem.deriveKeyPair(bs(fromHex(c.ikmR)));
    }

    it(`${label}: DeriveKeyPair, shared secret and key schedule`, async () => {
      if (isP256) {
        const [skR, pkR] = await p256DeriveKeypair(fromHex(c.ikmR));
        expect(toHex(skR)).toBe(c.skRm);
        expect(toHex(pkR)).toBe(c.pkRm);
        const [skE, pkE] = await p256DeriveKeypair(fromHex(c.ikmE));
        expect(toHex(skE)).toBe(c.skEm);
        expect(toHex(pkE)).toBe(c.pkEm);
        const dh = await p256Ecdh(skE, pkR);
        const ss = await dhkemP256SharedSecret(dh, fromHex(c.enc), pkR);
        expect(toHex(ss)).toBe(c.shared_secret);
      } else {
        const kp = await suite.cipherSuite.kem.deriveKeyPair(bs(fromHex(c.ikmR)));
        expect(toHex(new Uint8Array(await suite.cipherSuite.kem.serializePublicKey(kp.publicKey)))).toBe(c.pkRm);
      }
      const ks = await keyScheduleBase(fromHex(c.shared_secret), info, suite);
      expect(toHex(ks.key)).toBe(c.key);
      expect(toHex(ks.baseNonce)).toBe(c.base_nonce);
    });

    it(`${label}: seal with injected ikmE reproduces enc and ct; open recovers pt`, async () => {
      const e0 = c.encryptions[0]!;
      const sealed = await hpkeSealBase(fromHex(c.pkRm), info, fromHex(e0.aad), fromHex(e0.pt), {
        ikmE: fromHex(c.ikmE),
        suite,
      });
      expect(toHex(sealed.enc)).toBe(c.enc);
      expect(toHex(sealed.ct)).toBe(e0.ct);
      const r = await recipient();
      const pt = await hpkeOpenBase(r, fromHex(c.enc), info, fromHex(e0.aad), fromHex(e0.ct), { suite });
      expect(toHex(pt)).toBe(e0.pt);
    });

    it(`${label}: open rejects wrong aad, wrong info, modified ct and modified enc`, async () => {
      const e0 = c.encryptions[0]!;
      const r = await recipient();
      const ct = fromHex(e0.ct);
      const enc = fromHex(c.enc);
      const aad = fromHex(e0.aad);
      const flip = (b: Uint8Array, i: number) => {
        const x = b.slice();
        x[i]! ^= 1;
        return x;
      };
      expect(await outcome(() => hpkeOpenBase(r, enc, info, flip(aad, 0), ct, { suite }))).toBe("rejected");
      expect(await outcome(() => hpkeOpenBase(r, enc, flip(info, 3), aad, ct, { suite }))).toBe("rejected");
      expect(await outcome(() => hpkeOpenBase(r, enc, info, aad, flip(ct, ct.length - 1), { suite }))).toBe("rejected");
      expect(await outcome(() => hpkeOpenBase(r, flip(enc, 10), info, aad, ct, { suite }))).toBe("rejected");
      expect(await outcome(() => hpkeOpenBase(r, enc.subarray(1), info, aad, ct, { suite }))).toBe("rejected");
    });

    it(`${label}: every listed encryption opens in sequence`, async () => {
      const r = await recipient();
      const recipientKey =
        r.publicKey instanceof Uint8Array
          ? { privateKey: r.privateKey, publicKey: await suite.cipherSuite.kem.deserializePublicKey(bs(r.publicKey)) }
          : (r as CryptoKeyPair);
      const ctx = await suite.cipherSuite.createRecipientContext({ recipientKey, enc: bs(fromHex(c.enc)), info: bs(info) });
      const ks = await keyScheduleBase(fromHex(c.shared_secret), info, suite);
      for (const [seq, e] of c.encryptions.entries()) {
        const pt = new Uint8Array(await ctx.open(bs(fromHex(e.ct)), bs(fromHex(e.aad))));
        expect(toHex(pt)).toBe(e.pt);
        // Nonce = base_nonce XOR I2OSP(seq, Nn) (RFC 9180 section 5.2), opened with our AES-GCM.
        const nonce = ks.baseNonce.slice();
        nonce[11]! ^= seq;
        expect(toHex(nonce)).toBe(e.nonce);
        const open = Number(c.aead_id) === AEAD_AES256GCM ? aes256gcmOpen : aes128gcmOpen;
        expect(toHex(await open(ks.key, nonce, fromHex(e.ct), fromHex(e.aad)))).toBe(e.pt);
      }
    });
  }

  it("the default suite refuses invalid recipient points before sealing", async () => {
    const c = cases.find((x) => Number(x.kem_id) === KEM_P256)!;
    const pk = fromHex(c.pkRm);
    const bad = pk.slice();
    bad[64]! ^= 1; // off the curve
    const compressed = concat(new Uint8Array([2 + (pk[64]! & 1)]), pk.subarray(1, 33));
    for (const p of [bad, compressed, new Uint8Array(65), pk.subarray(0, 64)]) {
      expect(await outcome(() => hpkeSealBase(p, new Uint8Array(0), new Uint8Array(0), new Uint8Array(1)))).toBe("rejected");
    }
    expect(DEFAULT_SUITE.kemId).toBe(KEM_P256);
  });

  it("round-trips with fresh ephemeral keys and a non-extractable recipient key", async () => {
    const [sk, pk] = await p256DeriveKeypair(crypto.getRandomValues(new Uint8Array(32)));
    const r = await hpkeRecipientFromScalar(sk, pk);
    expect(r.privateKey.extractable).toBe(false);
    const msg = crypto.getRandomValues(new Uint8Array(100));
    const a = await hpkeSealBase(pk, new Uint8Array([1]), new Uint8Array([2]), msg);
    const b = await hpkeSealBase(pk, new Uint8Array([1]), new Uint8Array([2]), msg);
    expect(toHex(a.enc)).not.toBe(toHex(b.enc));
    expect(toHex(await hpkeOpenBase(r, a.enc, new Uint8Array([1]), new Uint8Array([2]), a.ct))).toBe(toHex(msg));
  });
});
