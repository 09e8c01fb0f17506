/**
 * Suite 2 (post-quantum hybrid, docs/protocol.md section 26) in the browser port: the X-Wing
 * draft's vectors, Wycheproof ML-KEM-768, the HPKE-PQ key schedule, and every case of
 * tests/vectors/dermline/hybrid.json, in Node (library path: Node 20 has no WebCrypto ML-KEM)
 * and in Chromium (both paths: Chromium 156 has WebCrypto `MLKEM768-X25519`, and the library
 * path is what browsers without it take). Derandomised encapsulation (`eseed`) is always the
 * library's.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ml_kem768 as mlkemLibrary } from "@noble/post-quantum/ml-kem.js";
import { ml_kem768 as mlkemWebCrypto } from "@noble/post-quantum/webcrypto.js";
import { fromHex, toHex } from "../../src/crypto/bytes";
import { caseKeyCommitment } from "../../src/crypto/caseKey";
import {
  chooseSuite,
  hybridAccountFingerprint,
  hybridKeyId,
  hybridKeyPairFromSeed,
  hybridSafetyNumber,
  hybridSpkiDer,
  openHybridCaseKeyWrap,
  openHybridRecordsKeyFile,
  openPatientPhotoHybrid,
  parseHybridCaseKeyWrapHeader,
  requireSuite,
  sealHybridPrivateKeyFromParts,
  sealHybridRecordsKeyFileFromParts,
  sealPatientPhotoHybrid,
  unsealHybridPrivateKey,
  unwrapUskForOrgHybrid,
  verifyHybridCaseKeyWrap,
  wrapCaseKeyHybrid,
  wrapUskForOrgHybrid,
  type HybridKeyPair,
} from "../../src/crypto/hybrid";
import { keyPairFromPrivate } from "../../src/crypto/account";
import type { PatientPhoto } from "../../src/crypto/patientDrop";
import {
  hpkeOpenBaseHybrid,
  hpkeSealBaseHybrid,
  hybridKeySchedule,
  setXWingPath,
  xwingDecapsulate,
  xwingEncapsulate,
  xwingPath,
  xwingPublicKey,
  type XWingPath,
} from "../../src/crypto/primitives/xwing";
import { hpkeSuiteId } from "../../src/crypto/primitives/labeled";
import { rfc6979Signer } from "../helpers/rfc6979";
import { IN_BROWSER, loadVectors, wycheproof } from "../helpers/vectors";

type T = Record<string, unknown> & { tcId: number; comment: string; result: "valid" | "invalid"; flags: string[] };
interface VFile {
  numberOfTests: number;
  testGroups: { type: string; tests: T[] }[];
}
const FILE = await loadVectors<VFile>("dermline/hybrid.json");
const DRAFT = await loadVectors<Record<string, string>[]>("xwing/test-vectors.json");
const HPKE_PQ = (await loadVectors<Record<string, unknown>[]>("hpke/hpke_pq.json")).filter(
  (v) => Number(v.kem_id) === 0x647a,
);
const hx = (t: Record<string, unknown>, k: string): Uint8Array => fromHex(t[k] as string);
const cases = (group: string): T[] => FILE.testGroups.find((g) => g.type === group)?.tests ?? [];
const rows = (ts: T[]) => ts.map((t) => [t.tcId, t.comment, t] as const);

async function errorOf(f: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await f();
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

// Chromium 156 takes the WebCrypto path; Node 20 (no WebCrypto ML-KEM) the library path.
const DETECTED = await xwingPath();
const PATHS: XWingPath[] = DETECTED === "webcrypto" ? ["webcrypto", "library"] : ["library"];
afterAll(() => setXWingPath(undefined));

describe("X-Wing path", () => {
  it("is the one this runtime supports", () => {
    expect(DETECTED).toBe(IN_BROWSER ? "webcrypto" : "library");
  });
});

describe("hybrid.json covers every group", () => {
  it("has the groups this file tests", () => {
    expect(FILE.testGroups.map((g) => g.type).sort()).toEqual(
      [
        "HybridCaseKeyWrap",
        "HybridFingerprint",
        "HybridKeyId",
        "HybridPatientDrop",
        "HybridRecordsKeyFile",
        "HybridSafetyNumber",
        "HybridUskOrgWrap",
        "SealedHybridPrivateKey",
        "SuiteDowngrade",
      ].sort(),
    );
    expect(FILE.testGroups.reduce((a, g) => a + g.tests.length, 0)).toBe(FILE.numberOfTests);
  });
});

for (const path of PATHS) {
  describe(`X-Wing, ${path} path`, () => {
    it.each(DRAFT.map((v, i) => [i, v] as const))("draft vector %i", async (_i, v) => {
      setXWingPath(path);
      expect(toHex(xwingPublicKey(fromHex(v.seed!)))).toBe(v.pk);
      expect(toHex(await xwingDecapsulate(fromHex(v.ct!), fromHex(v.sk!)))).toBe(v.ss);
      const derand = await xwingEncapsulate(fromHex(v.pk!), fromHex(v.eseed!));
      expect(toHex(derand.ciphertext)).toBe(v.ct);
      expect(toHex(derand.sharedSecret)).toBe(v.ss);
      const fresh = await xwingEncapsulate(fromHex(v.pk!));
      expect(toHex(await xwingDecapsulate(fresh.ciphertext, fromHex(v.sk!)))).toBe(toHex(fresh.sharedSecret));
    });

    it("HPKE with X-Wing: round trip, and each half of enc is bound", async () => {
      setXWingPath(path);
      const seed = new Uint8Array(32).fill(5);
      const pk = xwingPublicKey(seed);
      const info = new Uint8Array([1, 2]);
      const aad = new Uint8Array([3]);
      const { enc, ct } = await hpkeSealBaseHybrid(await xwingEncapsulate(pk), info, aad, new Uint8Array([42]));
      expect(Array.from(await hpkeOpenBaseHybrid(seed, enc, info, aad, ct))).toEqual([42]);
      for (const offset of [0, 1087, 1088, 1119]) {
        const bad = enc.slice();
        bad[offset]! ^= 1;
        expect(await errorOf(() => hpkeOpenBaseHybrid(seed, bad, info, aad, ct))).toBe("PrimitiveError");
      }
      const zeroX = enc.slice();
      zeroX.fill(0, 1088);
      expect(await errorOf(() => hpkeOpenBaseHybrid(seed, zeroX, info, aad, ct))).toBe("PrimitiveError");
      expect(await errorOf(() => hpkeOpenBaseHybrid(seed, enc.subarray(1), info, aad, ct))).toBe("PrimitiveError");
    });
  });
}

describe("HPKE-PQ vectors (X-Wing, kem_id 0x647a)", () => {
  it.each(HPKE_PQ.map((v) => [v.kdf_id, v] as const))("kdf %s: KEM", async (_k, v) => {
    expect(toHex(xwingPublicKey(hx(v, "skRm")))).toBe(v.pkRm);
    const e = await xwingEncapsulate(hx(v, "pkRm"), hx(v, "ikmE"));
    expect(toHex(e.ciphertext)).toBe(v.enc);
    expect(toHex(e.sharedSecret)).toBe(v.shared_secret);
  });
  it("HKDF-SHA256 vector: key schedule (its AEAD's key and nonce sizes equal AES-256-GCM's)", async () => {
    const v = HPKE_PQ.find((x) => Number(x.kdf_id) === 1)!;
    const ks = await hybridKeySchedule(hx(v, "shared_secret"), hx(v, "info"), hpkeSuiteId(0x647a, 1, 3));
    expect(toHex(ks.key)).toBe(v.key);
    expect(toHex(ks.baseNonce)).toBe(v.base_nonce);
    expect(toHex(ks.exporterSecret)).toBe(v.exporter_secret);
  });
});

describe("Wycheproof ML-KEM-768 (the libraries X-Wing uses)", async () => {
  const file = await wycheproof("mlkem_768_test.json");
  const tests = file.testGroups.flatMap((g) => g.tests);
  const webcrypto = await mlkemWebCrypto.isSupported();
  it("WebCrypto ML-KEM-768 is present exactly in the browser", () => {
    expect(webcrypto).toBe(IN_BROWSER);
  });
  it.each(tests.map((t) => [t.tcId, t.comment ?? "", t] as const))("tc%s %s", async (_id, _c, t) => {
    const seed = fromHex(t.seed as string);
    const c = fromHex(t.c as string);
    const run = async () => {
      const { publicKey, secretKey } = mlkemLibrary.keygen(seed);
      const k = mlkemLibrary.decapsulate(c, secretKey);
      if (webcrypto) {
        expect(toHex(await mlkemWebCrypto.getPublicKey(seed))).toBe(toHex(publicKey));
        expect(toHex(await mlkemWebCrypto.decapsulate(c, seed))).toBe(toHex(k));
      }
      return { ek: toHex(publicKey), k: toHex(k) };
    };
    if (t.result === "valid") {
      expect(await run()).toEqual({ ek: t.ek, k: t.K });
    } else {
      expect(await errorOf(run)).not.toBe("ok");
    }
  });
});

async function hybrid(t: T, prefix: string): Promise<HybridKeyPair> {
  const pair = await hybridKeyPairFromSeed(hx(t, `${prefix}_seed`));
  expect(toHex(pair.publicKey)).toBe(t[`${prefix}_public_key`]);
  expect(toHex(pair.keyId)).toBe(t[`${prefix}_key_id`]);
  return pair;
}

// Every case on every path this runtime has (opening runs the path's decapsulation).
for (const path of PATHS) describe(`hybrid.json, ${path} path`, () => {
  beforeAll(() => setXWingPath(path));
  it("runs on the path it names", async () => {
    expect(await xwingPath()).toBe(path);
  });
  it.each(rows(cases("HybridKeyId")))("HybridKeyId tc%s %s", async (_id, _c, t) => {
    if (t.result === "valid") {
      const pair = await hybridKeyPairFromSeed(hx(t, "seed"));
      expect(toHex(pair.publicKey)).toBe(t.public_key);
      expect(toHex(hybridSpkiDer(pair.publicKey))).toBe(t.spki);
      expect(toHex(pair.keyId)).toBe(t.key_id);
    } else {
      expect(await errorOf(() => hybridKeyId(hx(t, "public_key")))).toBe("PublicKeyError");
    }
  });

  it("HybridFingerprint and HybridSafetyNumber", async () => {
    const [t] = cases("HybridFingerprint");
    const keys = ["signing_public_key", "encryption_public_key", "hybrid_public_key"].map((k) => hx(t!, k));
    expect(await hybridAccountFingerprint(keys[0]!, keys[1]!, keys[2]!)).toBe(t!.fingerprint);
    expect(await hybridAccountFingerprint(keys[0]!, keys[1]!)).toBe(t!.classical_fingerprint);
    const [s] = cases("HybridSafetyNumber");
    const side = (who: string) =>
      ["signing", "encryption", "hybrid"].map((k) => hx(s!, `${who}_${k}_public_key`)) as [
        Uint8Array,
        Uint8Array,
        Uint8Array,
      ];
    expect(await hybridSafetyNumber(side("ours"), side("theirs"))).toBe(s!.safety_number);
    expect(await hybridSafetyNumber(side("theirs"), side("ours"))).toBe(s!.safety_number);
  });

  it.each(rows(cases("SealedHybridPrivateKey")))("SealedHybridPrivateKey tc%s %s", async (_id, _c, t) => {
    const pair = await hybrid(t, "hybrid");
    const usk = hx(t, "usk");
    const user = t.user_id as string;
    if (t.result === "valid") {
      expect(toHex(await sealHybridPrivateKeyFromParts(pair, usk, user, hx(t, "nonce")))).toBe(t.record);
      expect(toHex((await unsealHybridPrivateKey(hx(t, "record"), usk, user)).seed)).toBe(t.hybrid_seed);
    } else {
      expect(await errorOf(() => unsealHybridPrivateKey(hx(t, "record"), usk, user))).toBe("PrivateKeyUnsealError");
    }
  });

  it.each(rows(cases("HybridCaseKeyWrap")))("HybridCaseKeyWrap tc%s %s", async (_id, _c, t) => {
    const record = hx(t, "record");
    const recipient = await hybrid(t, "recipient");
    const wrapperPublic = hx(t, "wrapper_signing_public_key");
    expect(await errorOf(() => parseHybridCaseKeyWrapHeader(record))).toBe(
      t.header_parses ? "ok" : "CaseKeyWrapHeaderError",
    );
    expect(await errorOf(() => verifyHybridCaseKeyWrap(record, wrapperPublic))).toBe(
      t.signature_verifies ? "ok" : "CaseKeyWrapSignatureError",
    );
    const context = { caseId: t.case_id as string, epoch: t.epoch as number, wrapperUserId: t.wrapper_user_id as string };
    const open = () => openHybridCaseKeyWrap(record, { ...context, recipient, wrapperSigningPublicKey: wrapperPublic });
    if (t.result === "valid") {
      const wrapper = { keyId: hx(t, "wrapper_signing_key_id"), sign: rfc6979Signer(hx(t, "wrapper_signing_private_key")) };
      const built = await wrapCaseKeyHybrid(
        hx(t, "case_key"),
        { ...context, recipientPublicKey: recipient.publicKey, wrapper },
        hx(t, "eseed"),
      );
      expect(toHex(built)).toBe(t.record);
      expect(toHex(await caseKeyCommitment(hx(t, "case_key"), context))).toBe(t.commitment);
      expect(toHex(await open())).toBe(t.case_key);
    } else {
      expect(await errorOf(open)).toBe("CaseKeyUnwrapError");
    }
  });

  it.each(rows(cases("SuiteDowngrade")))("SuiteDowngrade tc%s %s", async (_id, _c, t) => {
    const check = () => requireSuite(hx(t, "record"), { hybridKeyKnown: t.hybrid_key_known as boolean });
    expect(await errorOf(check)).toBe(t.result === "valid" ? "ok" : "SuiteDowngradeError");
  });

  it.each(rows(cases("HybridUskOrgWrap")))("HybridUskOrgWrap tc%s %s", async (_id, _c, t) => {
    const org = await hybrid(t, "org");
    const user = t.user_id as string;
    if (t.result === "valid") {
      expect(toHex(await wrapUskForOrgHybrid(hx(t, "usk"), org.publicKey, user, hx(t, "eseed")))).toBe(t.record);
      expect(toHex(await unwrapUskForOrgHybrid(hx(t, "record"), org, user))).toBe(t.usk);
    } else {
      expect(await errorOf(() => unwrapUskForOrgHybrid(hx(t, "record"), org, user))).toBe("UskOrgUnwrapError");
    }
  });

  it.each(rows(cases("HybridPatientDrop")))("HybridPatientDrop tc%s %s", async (_id, _c, t) => {
    const box = await hybrid(t, "drop_box");
    const linkId = t.link_id as string;
    if (t.result === "valid") {
      const d = t.decoded as Record<string, unknown>;
      const photo: PatientPhoto = {
        attachmentId: d.attachment_id as string,
        fileKey: fromHex(toHex(Uint8Array.from(atob((d.file_key as string).replace(/-/g, "+").replace(/_/g, "/") + "="), (c) => c.charCodeAt(0)))),
        ciphertextSha256: fromHex(d.ciphertext_sha256 as string),
        ciphertextSize: d.ciphertext_size as number,
        mediaType: d.media_type as string,
        tag: d.tag as PatientPhoto["tag"],
        bodySite: d.body_site as string,
      };
      const built = await sealPatientPhotoHybrid(
        photo,
        { linkId, index: t.index as number, dropBoxPublicKey: box.publicKey },
        hx(t, "eseed"),
      );
      expect(toHex(built)).toBe(t.record);
      const opened = await openPatientPhotoHybrid(hx(t, "record"), { linkId, dropBox: box });
      expect(opened.index).toBe(t.index);
      expect(opened.photo).toEqual(photo);
    } else {
      expect(await errorOf(() => openPatientPhotoHybrid(hx(t, "record"), { linkId, dropBox: box }))).toBe(
        "PatientDropError",
      );
    }
  });

  it.each(rows(cases("HybridRecordsKeyFile")))("HybridRecordsKeyFile tc%s %s", async (_id, _c, t) => {
    const pair = await keyPairFromPrivate(hx(t, "records_private_key"));
    const key = await hybrid(t, "records_hybrid");
    const phrase = t.passphrase as string;
    if (t.result === "valid") {
      const built = await sealHybridRecordsKeyFileFromParts(pair, key, phrase, {
        salt: hx(t, "salt"),
        nonce: hx(t, "nonce"),
        iterations: t.iterations as number,
      });
      expect(toHex(built)).toBe(t.record);
      const opened = await openHybridRecordsKeyFile(hx(t, "record"), phrase);
      expect(toHex(opened.pair.privateKey)).toBe(t.records_private_key);
      expect(toHex(opened.hybrid.seed)).toBe(t.records_hybrid_seed);
    } else {
      expect(await errorOf(() => openHybridRecordsKeyFile(hx(t, "record"), phrase))).toBe("RecordsKeyFileError");
    }
  });
});

describe("suite rules", () => {
  beforeAll(() => setXWingPath(undefined));
  it("chooses suite 2 only when every recipient has a hybrid key", async () => {
    const pk = xwingPublicKey(new Uint8Array(32).fill(9));
    expect(await chooseSuite([{ userId: "a", hybridPublicKey: pk }, { userId: "b", hybridPublicKey: pk }])).toEqual({
      suite: 2,
      perRecipient: [2, 2],
      classicalOnly: [],
    });
    expect(await chooseSuite([{ userId: "a", hybridPublicKey: pk }, { userId: "b" }])).toEqual({
      suite: 1,
      perRecipient: [2, 1],
      classicalOnly: ["b"],
    });
    const bad = pk.slice();
    bad.fill(0xff, 0, 1184);
    expect(await errorOf(() => chooseSuite([{ userId: "a", hybridPublicKey: bad }]))).toBe("PublicKeyError");
  });
});
