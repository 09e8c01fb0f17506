/**
 * The organisation key's custody (orgKey.ts: wrap 0x0f, invite handover 0x10) and the records
 * signing key against EXACTLY the Python reference vectors tests/vectors/dermline/org_key.json,
 * plus a round trip through the production paths (WebCrypto signer, fresh ephemeral key and
 * nonce). Runs in Node and in Chromium.
 */
import { describe, expect, it } from "vitest";
import {
  KeyPurpose,
  generateKeyPair,
  keyPairFromPrivate,
  signingIdentity,
  toAccountKey,
} from "../../src/crypto/account";
import { fromHex, toHex } from "../../src/crypto/bytes";
import { OrgKeyHandoverError, OrgKeyUnwrapError, OrgKeyWrapHeaderError, PublicKeyError } from "../../src/crypto/errors";
import { deriveInviteKey, generateInviteSecret } from "../../src/crypto/invite";
import {
  ORG_KEY_HANDOVER_LENGTH,
  ORG_KEY_WRAP_LENGTH,
  openOrgKeyHandover,
  openOrgKeyWrap,
  parseOrgKeyWrapHeader,
  sealOrgKeyHandover,
  sealOrgKeyHandoverFromParts,
  wrapOrgKey,
  wrapOrgKeyFromParts,
} from "../../src/crypto/orgKey";
import { hpkeRecipientFromScalar } from "../../src/crypto/primitives/hpke";
import { deriveRecordsSigningKey } from "../../src/crypto/recordsKey";
import { rfc6979Signer } from "../helpers/rfc6979";
import { loadVectors } from "../helpers/vectors";

type T = Record<string, unknown> & { tcId: number; comment: string; result: "valid" | "invalid"; flags: string[] };
interface VFile {
  numberOfTests: number;
  testGroups: { type: string; tests: T[] }[];
}

const f = await loadVectors<VFile>("dermline/org_key.json");
const group = (type: string): T[] => f.testGroups.find((g) => g.type === type)?.tests ?? [];
const cases = (type: string) => group(type).map((t) => [t.tcId, t.comment, t] as const);
const hx = (t: T, k: string) => fromHex(t[k] as string);
const s = (t: T, k: string) => t[k] as string;

async function errorOf(fn: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

async function recipientOf(privateKey: Uint8Array, publicKey: Uint8Array) {
  return { ...(await hpkeRecipientFromScalar(privateKey, publicKey)), keyId: (await keyPairFromPrivate(privateKey)).keyId };
}

const pairFields = (p: { privateKey: Uint8Array; publicKey: Uint8Array; keyId: Uint8Array }) => [
  toHex(p.privateKey),
  toHex(p.publicKey),
  toHex(p.keyId),
];

describe("org_key.json", () => {
  it("covers the file", () => {
    expect(f.testGroups.flatMap((g) => g.tests).length).toBe(f.numberOfTests);
    expect(f.testGroups.map((g) => g.type)).toEqual(["OrgKeyWrap", "OrgKeyHandover", "RecordsSigningKey"]);
  });

  it.each(cases("OrgKeyWrap"))("OrgKeyWrap tc %i %s", async (_i, _c, t) => {
    const record = hx(t, "record");
    const open = async () =>
      openOrgKeyWrap(record, {
        orgId: s(t, "org_id"),
        orgKeyId: hx(t, "org_key_id"),
        recipient: await recipientOf(hx(t, "recipient_private_key"), hx(t, "recipient_public_key")),
        wrapperSigningPublicKey: hx(t, "wrapper_signing_public_key"),
        wrapperUserId: s(t, "wrapper_user_id"),
      });
    expect(await errorOf(() => parseOrgKeyWrapHeader(record))).toBe(t.header_parses ? "ok" : OrgKeyWrapHeaderError.name);
    if (t.result === "invalid") {
      expect(await errorOf(open)).toBe(OrgKeyUnwrapError.name);
      return;
    }
    expect(pairFields(await open())).toEqual([t.org_private_key, t.org_public_key, t.org_key_id]);
    const header = parseOrgKeyWrapHeader(record);
    expect([header.orgId, toHex(header.recipientKeyId), header.wrapperUserId, toHex(header.wrapperKeyId), toHex(header.orgKeyId)]).toEqual([
      t.org_id,
      t.recipient_key_id,
      t.wrapper_user_id,
      t.wrapper_signing_key_id,
      t.org_key_id,
    ]);
    const orgKey = await keyPairFromPrivate(hx(t, "org_private_key"));
    const wrapper = await keyPairFromPrivate(hx(t, "wrapper_signing_private_key"));
    const params = {
      orgId: s(t, "org_id"),
      recipientPublicKey: hx(t, "recipient_public_key"),
      wrapperUserId: s(t, "wrapper_user_id"),
      ikmE: hx(t, "ikm_e"),
    };
    const again = await wrapOrgKeyFromParts(orgKey, {
      ...params,
      wrapperSigningKey: { keyId: wrapper.keyId, sign: rfc6979Signer(wrapper.privateKey) },
    });
    expect(toHex(again)).toBe(t.record);
    const production = await wrapOrgKeyFromParts(orgKey, {
      ...params,
      wrapperSigningKey: signingIdentity(await toAccountKey(wrapper, KeyPurpose.SIGNING)),
    });
    expect(toHex(production.subarray(0, 196))).toBe(toHex(record.subarray(0, 196)));
    expect(production.length).toBe(ORG_KEY_WRAP_LENGTH);
  });

  it.each(cases("OrgKeyHandover"))("OrgKeyHandover tc %i %s", async (_i, _c, t) => {
    const record = hx(t, "record");
    const open = () =>
      openOrgKeyHandover(record, { orgId: s(t, "org_id"), inviteSecret: hx(t, "invite_secret"), orgKeyId: hx(t, "org_key_id") });
    if (t.result === "invalid") {
      expect(await errorOf(open)).toBe(OrgKeyHandoverError.name);
      return;
    }
    expect(pairFields(await open())).toEqual([t.org_private_key, t.org_public_key, t.org_key_id]);
    expect(toHex((await deriveInviteKey(hx(t, "invite_secret"))).keyId)).toBe(t.invite_key_id);
    const orgKey = await keyPairFromPrivate(hx(t, "org_private_key"));
    const again = await sealOrgKeyHandoverFromParts(orgKey, {
      orgId: s(t, "org_id"),
      inviteSecret: hx(t, "invite_secret"),
      nonce: hx(t, "nonce"),
    });
    expect(toHex(again)).toBe(t.record);
  });

  it.each(cases("RecordsSigningKey"))("RecordsSigningKey tc %i %s", async (_i, _c, t) => {
    const k = await deriveRecordsSigningKey(hx(t, "records_private_key"));
    expect(pairFields(k)).toEqual([t.records_signing_private_key, t.records_signing_public_key, t.records_signing_key_id]);
  });
});

describe("production paths", () => {
  it("wrap and handover round-trip with fresh randomness, and refuse the wrong addressee", async () => {
    const orgKey = await generateKeyPair();
    const admin = await generateKeyPair();
    const other = await generateKeyPair();
    const wrapper = await generateKeyPair();
    const orgId = crypto.randomUUID();
    const wrapperUserId = crypto.randomUUID();
    const record = await wrapOrgKey(orgKey, {
      orgId,
      recipientPublicKey: admin.publicKey,
      wrapperUserId,
      wrapperSigningKey: signingIdentity(await toAccountKey(wrapper, KeyPurpose.SIGNING)),
    });
    const base = {
      orgId,
      orgKeyId: orgKey.keyId,
      recipient: await recipientOf(admin.privateKey, admin.publicKey),
      wrapperSigningPublicKey: wrapper.publicKey,
      wrapperUserId,
    };
    expect(pairFields(await openOrgKeyWrap(record, base))).toEqual(pairFields(orgKey));
    for (const change of [
      { recipient: await recipientOf(other.privateKey, other.publicKey) },
      { orgKeyId: other.keyId },
      { wrapperSigningPublicKey: other.publicKey },
      { wrapperUserId: crypto.randomUUID() },
      { orgId: crypto.randomUUID() },
    ]) {
      expect(await errorOf(() => openOrgKeyWrap(record, { ...base, ...change }))).toBe(OrgKeyUnwrapError.name);
    }
    const wrapperIdentity = signingIdentity(await toAccountKey(wrapper, KeyPurpose.SIGNING));
    await expect(
      wrapOrgKey(orgKey, { orgId, recipientPublicKey: new Uint8Array(65), wrapperUserId, wrapperSigningKey: wrapperIdentity }),
    ).rejects.toThrow(PublicKeyError);

    const secret = generateInviteSecret();
    const handover = await sealOrgKeyHandover(orgKey, { orgId, inviteSecret: secret });
    expect(handover.length).toBe(ORG_KEY_HANDOVER_LENGTH);
    expect(pairFields(await openOrgKeyHandover(handover, { orgId, inviteSecret: secret, orgKeyId: orgKey.keyId }))).toEqual(
      pairFields(orgKey),
    );
    expect(
      await errorOf(() => openOrgKeyHandover(handover, { orgId, inviteSecret: generateInviteSecret(), orgKeyId: orgKey.keyId })),
    ).toBe(OrgKeyHandoverError.name);
    expect(await errorOf(() => openOrgKeyHandover(handover, { orgId, inviteSecret: secret, orgKeyId: other.keyId }))).toBe(
      OrgKeyHandoverError.name,
    );
  });
});
