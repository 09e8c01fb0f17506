/**
 * Patient photo links in the web client (issue 6 item 8; docs/protocol.md section 17): the
 * route, finding drop-box keys in a thread, and a full GP -> patient -> reader round trip of the
 * records with the real protocol functions (the HTTP parts run in `npm run e2e`, step 9).
 */
import { describe, expect, it } from "vitest";
import {
  ContentType,
  PatientDropError,
  PatientLinkFormatError,
  formatLinkFragment,
  generateKeyPair,
  sealPatientPhoto,
  toBase64Url,
  type PatientPhoto,
} from "../../src/crypto/index";
import type { OpenedEntry } from "../../src/app/cases";
import { dropBoxKeys, openPatientSubmission, readFragment } from "../../src/app/patientLink";
import { href, parseRoute } from "../../src/app/router";

const LINK = "0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b";

function photo(n: number): PatientPhoto {
  return {
    attachmentId: crypto.randomUUID(),
    fileKey: crypto.getRandomValues(new Uint8Array(32)),
    ciphertextSha256: crypto.getRandomValues(new Uint8Array(32)),
    ciphertextSize: 1000 + n,
    mediaType: "image/jpeg",
    tag: "close_up",
    bodySite: `site ${n}`,
    quality: { verdict: n ? "warn" : "ok", reasons: n ? ["blurred"] : [] },
    ...(n ? { sendAnywayReason: "best I can do" } : {}),
  };
}

function entry(contentType: number, body: Record<string, unknown>): OpenedEntry {
  return { seq: 1, clientMsgId: crypto.randomUUID(), contentType, body } as unknown as OpenedEntry;
}

describe("patient link route", () => {
  it("parses #/p/<fragment> and builds it back; a mistyped fragment is the page's to explain", () => {
    const r = parseRoute("#/p/abc.def");
    expect(r).toEqual({ name: "patient", fragment: "abc.def" });
    expect(href(r)).toBe("#/p/abc.def");
    expect(parseRoute("#/p/")).toEqual({ name: "notFound" });
    expect(parseRoute("#/p/a b")).toEqual({ name: "notFound" });
    expect(() => readFragment("abc.def")).toThrow(PatientLinkFormatError);
  });
});

describe("patient photos round trip", () => {
  it("GP key in the thread opens what the patient sealed; tampering is refused", async () => {
    const box = await generateKeyPair();
    const token = crypto.getRandomValues(new Uint8Array(32));
    const parsed = readFragment(formatLinkFragment(token, box.publicKey));
    expect(parsed.token).toEqual(token);
    const photos = [photo(0), photo(1)];
    const records = await Promise.all(photos.map((p, index) => sealPatientPhoto(p, { linkId: LINK, index, dropBoxPublicKey: parsed.publicKey })));
    const thread = [
      entry(ContentType.TEXT, { text: "hello" }),
      entry(ContentType.PATIENT_LINK, { link_id: LINK, expires_at_ms: 1, max_photos: 6, drop_box_private_key: toBase64Url(box.privateKey) }),
    ];
    const keys = dropBoxKeys(thread);
    expect([...keys.keys()]).toEqual([LINK]);
    // Records in any order come back in index order.
    const opened = await openPatientSubmission(LINK, keys.get(LINK)!, [records[1]!, records[0]!]);
    expect(opened).toEqual(photos);
    // A duplicated record (same index twice) is refused, as is a flipped bit.
    await expect(openPatientSubmission(LINK, keys.get(LINK)!, [records[0]!, records[0]!])).rejects.toThrow(RangeError);
    const bad = records[0]!.slice();
    bad[bad.length - 1]! ^= 1;
    await expect(openPatientSubmission(LINK, keys.get(LINK)!, [bad])).rejects.toThrow(PatientDropError);
    // Another link's key does not open them.
    const other = await generateKeyPair();
    await expect(openPatientSubmission(LINK, other.privateKey, [records[0]!])).rejects.toThrow(PatientDropError);
  });
});
