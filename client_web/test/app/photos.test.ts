/**
 * Photo messages of the app layer (issue 6): a case with photos built by the GP, opened by the
 * dermatologist through a simulated server: each photo is ONE signed reference that carries its
 * thumbnail, both attachments decrypt to the exact bytes with their hash checked, "send anyway"
 * is recorded in the signed caption; old threads' separate thumbnail references still pair with
 * their photo (same sender only); a retake request carries coded reasons; uploads are retried
 * on network and 5xx failures only, and a 409 after a lost answer counts as stored. Plus the
 * idle re-lock hook and the session's lock reasons.
 */
import { describe, expect, it, vi } from "vitest";
import { ApiError, ServerUnavailable, type CaseDetail, type Participant, type Person, type ThreadMessage } from "../../src/app/api";
import { buildNewCase, openMyCaseKey, openMessages, openPhoto } from "../../src/app/cases";
import { openThumbnail, pairedLegacyThumbnails, sealPhotos, sealRetakeRequest, sendAnywayCaption, threadPhotos, thumbnailTarget, uploadPhotos, withRetry } from "../../src/app/photos";
import { IDLE_LOCK_MS, IDLE_TEST_KEY, Session, idleLockMs } from "../../src/app/session";
import { type Body, ContentType, generateKeyPair } from "../../src/crypto/index";
import { history, user } from "../helpers/people";

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe("photos in a case thread", () => {
  it("one reference per photo carries its thumbnail; both decrypt exactly; the send-anyway reason is signed", async () => {
    const gp = await user();
    const derm = await user();
    const records = await generateKeyPair();
    const dermPerson: Person = {
      userId: derm.keys.userId,
      displayName: "Dr Derm",
      roles: [{ orgId: "svc", role: "dermatologist" }],
      encryptionPublicKey: derm.enc.publicKey,
      signingPublicKey: derm.sig.publicKey,
    };
    const photos = [
      { jpeg: bytes(70_000, 1), thumbnail: bytes(3_000, 2), tag: "close_up" as const, bodySite: "left forearm" },
      { jpeg: bytes(50_000, 3), thumbnail: bytes(2_000, 4), tag: "dermoscopic" as const, bodySite: "left forearm", caption: sendAnywayCaption(["blurred"], "Patient cannot return this week") },
    ];
    const made = await buildNewCase(gp.keys, { practiceId: "p1", recordsPublicKey: records.publicKey, serviceId: "svc", dermatologists: [dermPerson], priority: "routine", history, photos });
    expect(made.uploads).toHaveLength(4);
    expect(made.photoMessages).toHaveLength(2);
    // Thumbnails are uploaded first (small, so the thread shows something at once).
    expect(made.uploads.map((u) => u.record.length < 10_000)).toEqual([true, true, false, false]);

    const participants: Participant[] = [
      { userId: gp.keys.userId, role: "gp", displayName: "Dr GP", encryptionPublicKey: gp.enc.publicKey, signingPublicKey: gp.sig.publicKey },
      { ...dermPerson, role: "dermatologist" },
    ];
    const detail: CaseDetail = {
      case: { caseId: made.request.caseId, practiceId: "p1", serviceId: "svc", createdBy: gp.keys.userId, state: "submitted", priority: "routine", updatedAt: "", outcomeCategory: null, lastSeq: 3, claimedBy: null },
      participants,
      caseKeys: made.request.caseKeys.map((k) => ({ ...k, epoch: 0 })),
      outcome: null,
    };
    const msgs: ThreadMessage[] = [made.firstMessage, ...made.photoMessages].map((m, i) => ({ seq: i + 1, clientMsgId: m.clientMsgId, senderId: gp.keys.userId, envelope: m.envelope, createdAt: "" }));
    const caseKey = await openMyCaseKey(derm.keys, detail);
    const { entries } = await openMessages(caseKey, detail, msgs);
    const refs = entries.filter((e) => e.contentType === ContentType.PHOTO_REFERENCE);
    expect(refs).toHaveLength(2);
    // Each reference names its photo (plain media type, no legacy link) and its thumbnail.
    const ids = new Set(made.uploads.map((u) => u.attachmentId));
    for (const [i, r] of refs.entries()) {
      expect(r.body.media_type).toBe("image/jpeg");
      expect(thumbnailTarget(r.body.media_type)).toBeNull();
      const t = r.body.thumbnail as Body;
      expect(Object.keys(t).sort()).toEqual(["attachment_id", "ciphertext_sha256", "ciphertext_size", "file_key"]);
      expect(t.attachment_id).not.toBe(r.body.attachment_id);
      expect(ids.has(String(t.attachment_id)) && ids.has(String(r.body.attachment_id))).toBe(true);
      expect(t.attachment_id).toBe(made.uploads[i]!.attachmentId);
      expect(t.ciphertext_size).toBe(made.uploads[i]!.record.length);
    }
    expect(refs[0]!.body.caption).toBeUndefined();
    expect(refs[1]!.body.caption).toBe("Sent despite a quality warning (blurred). Reason: Patient cannot return this week");
    expect(threadPhotos(entries)).toEqual(refs.map((r) => ({ body: r.body })));

    const store = new Map(made.uploads.map((u) => [u.attachmentId, u.record]));
    const download = async (id: string) => store.get(id)!;
    expect(await openThumbnail(download, refs[0]!.body)).toEqual(photos[0]!.thumbnail);
    expect(await openThumbnail(download, refs[1]!.body)).toEqual(photos[1]!.thumbnail);
    expect((await openPhoto(download, refs[0]!.body)).jpeg).toEqual(photos[0]!.jpeg);
    expect((await openPhoto(download, refs[1]!.body)).jpeg).toEqual(photos[1]!.jpeg);
    const { thumbnail: _t, ...noThumb } = refs[0]!.body;
    expect(await openThumbnail(download, noThumb)).toBeNull();
    // A server that swaps two attachments is caught by the hash in the signed reference: the
    // thumbnail of one photo served for another's, or the photo served for its own thumbnail.
    const other = String((refs[1]!.body.thumbnail as Body).attachment_id);
    await expect(openThumbnail(async () => store.get(other)!, refs[0]!.body)).rejects.toThrow();
    await expect(openThumbnail(async () => store.get(String(refs[0]!.body.attachment_id))!, refs[0]!.body)).rejects.toThrow();
    await expect(openPhoto(async () => store.get(String(refs[1]!.body.attachment_id))!, refs[0]!.body)).rejects.toThrow();

    // More photos later in the same case chain after the thread, and a retake request.
    const more = await sealPhotos(gp.keys, { caseKey, caseId: made.request.caseId, previousHash: (await openMessages(caseKey, detail, msgs)).lastHash, photos: [photos[0]!] });
    expect(more.messages).toHaveLength(1);
    expect(more.uploads).toHaveLength(2);
    const retake = await sealRetakeRequest(derm.keys, {
      caseKey,
      caseId: made.request.caseId,
      previousHash: more.lastHash,
      attachmentIds: [String(refs[1]!.body.attachment_id)],
      reasons: ["out_of_focus", "no_dermoscopic_image"],
      text: "Retake the dermoscopic photo in focus",
    });
    const all = [...msgs, ...more.messages.map((m, i) => ({ seq: 4 + i, clientMsgId: m.clientMsgId, senderId: gp.keys.userId, envelope: m.envelope, createdAt: "" })), { seq: 5, clientMsgId: retake.clientMsgId, senderId: derm.keys.userId, envelope: retake.envelope, createdAt: "" }];
    const opened = (await openMessages(caseKey, detail, all)).entries;
    expect(threadPhotos(opened)).toHaveLength(3);
    expect(opened.at(-1)!.contentType).toBe(ContentType.RETAKE_REQUEST);
    expect(opened.at(-1)!.body).toEqual({ v: 1, attachment_ids: [refs[1]!.body.attachment_id], reasons: ["out_of_focus", "no_dermoscopic_image"], text: "Retake the dermoscopic photo in focus" });
    await expect(sealRetakeRequest(derm.keys, { caseKey, caseId: made.request.caseId, previousHash: more.lastHash, attachmentIds: [], reasons: ["made_up"], text: "" })).rejects.toThrow(RangeError);
    await expect(sealRetakeRequest(derm.keys, { caseKey, caseId: made.request.caseId, previousHash: more.lastHash, attachmentIds: [], reasons: [], text: "" })).rejects.toThrow(RangeError);
  });

  it("old threads: a legacy thumbnail reference pairs with its photo only from the same sender", () => {
    const ids = ["0b0a7f7e-3c1d-4c2e-9f00-1234567890a1", "0b0a7f7e-3c1d-4c2e-9f00-1234567890a2", "0b0a7f7e-3c1d-4c2e-9f00-1234567890a3"];
    const legacy = (target: string, n: number): Body => ({ attachment_id: `1b0a7f7e-3c1d-4c2e-9f00-12345678900${n}`, media_type: `image/jpeg; dermline-role=thumbnail; for=${target}`, tag: "close_up", body_site: "arm" });
    const photo = (id: string, extra: Body = {}): Body => ({ attachment_id: id, media_type: "image/jpeg", tag: "close_up", body_site: "arm", ...extra });
    const gp = { userId: "gp" };
    const derm = { userId: "derm" };
    const entry = (body: Body, sender: { userId: string } | null, contentType: number = ContentType.PHOTO_REFERENCE) => ({ contentType, body, sender });
    const embedded = photo(ids[2]!, { thumbnail: { attachment_id: "2b0a7f7e-3c1d-4c2e-9f00-123456789000" } });
    const out = threadPhotos([
      entry(legacy(ids[0]!, 1), gp), // the old pair: thumbnail first, then its photo
      entry(photo(ids[0]!), gp),
      entry(legacy(ids[1]!, 2), derm), // another participant's "thumbnail" for the GP's photo
      entry(photo(ids[1]!), gp),
      entry(legacy(ids[2]!, 3), gp), // a photo with its own thumbnail ignores a legacy one
      entry(embedded, gp),
      entry({ text: "hello" }, gp, ContentType.TEXT),
      entry(legacy(ids[0]!, 4), gp), // a second legacy thumbnail for the same photo: ignored
    ]);
    // Only the paired reference is hidden; every other one is shown as the photo it is, so
    // nothing a participant signed goes unseen.
    expect(out).toEqual([
      { body: photo(ids[0]!), legacyThumbnail: legacy(ids[0]!, 1) },
      { body: legacy(ids[1]!, 2) },
      { body: photo(ids[1]!) },
      { body: legacy(ids[2]!, 3) },
      { body: embedded },
      { body: legacy(ids[0]!, 4) },
    ]);
    expect([...pairedLegacyThumbnails(out)]).toEqual([legacy(ids[0]!, 1)]);
    // An unknown sender pairs with nothing.
    expect(threadPhotos([entry(legacy(ids[0]!, 1), null), entry(photo(ids[0]!), null)])).toEqual([{ body: legacy(ids[0]!, 1) }, { body: photo(ids[0]!) }]);
  });

  it("legacy media-type link and the send-anyway caption", () => {
    const id = "0b0a7f7e-3c1d-4c2e-9f00-1234567890ab";
    expect(thumbnailTarget(`image/jpeg; dermline-role=thumbnail; for=${id}`)).toBe(id);
    expect(thumbnailTarget("image/jpeg")).toBeNull();
    expect(thumbnailTarget(`image/jpeg; dermline-role=thumbnail; for=${id}x`)).toBeNull();
    expect(thumbnailTarget(42)).toBeNull();
    expect(() => sendAnywayCaption(["blurred"], "   ")).toThrow(RangeError);
    expect(sendAnywayCaption(["over_exposed", "framing"], " only photo possible ")).toBe("Sent despite a quality warning (too bright, lesion not centred). Reason: only photo possible");
  });
});

describe("upload retry", () => {
  const noSleep = async () => undefined;
  it("retries network failures, 429 and 5xx, then succeeds", async () => {
    const op = vi.fn().mockRejectedValueOnce(new ServerUnavailable()).mockRejectedValueOnce(new ApiError(503, "internal")).mockRejectedValueOnce(new ApiError(429, "rate_limited")).mockResolvedValue("ok");
    const waits: number[] = [];
    await expect(withRetry(op, { attempts: 4, baseMs: 100, sleep: async (ms) => void waits.push(ms) })).resolves.toBe("ok");
    expect(op).toHaveBeenCalledTimes(4);
    expect(waits).toEqual([100, 200, 400]);
  });
  it("never retries a refusal (413 too large, 422 wrong hash) and gives up after the attempts", async () => {
    for (const status of [413, 422, 403]) {
      const op = vi.fn().mockRejectedValue(new ApiError(status, "x"));
      await expect(withRetry(op, { sleep: noSleep })).rejects.toMatchObject({ status });
      expect(op).toHaveBeenCalledTimes(1);
    }
    const down = vi.fn().mockRejectedValue(new ServerUnavailable());
    await expect(withRetry(down, { attempts: 3, sleep: noSleep })).rejects.toBeInstanceOf(ServerUnavailable);
    expect(down).toHaveBeenCalledTimes(3);
  });
  it("a 409 on a retry means the lost first attempt landed; a 409 first time is an error", async () => {
    const u = { attachmentId: "a", record: new Uint8Array(1), sha256: new Uint8Array(32) };
    const seen: string[] = [];
    const flaky = vi.fn().mockImplementationOnce(async () => {
      seen.push("stored, answer lost");
      throw new ServerUnavailable();
    }).mockRejectedValueOnce(new ApiError(409, "conflict"));
    await expect(uploadPhotos(flaky, [u], { sleep: noSleep })).resolves.toBeUndefined();
    expect(flaky).toHaveBeenCalledTimes(2);
    await expect(uploadPhotos(vi.fn().mockRejectedValue(new ApiError(409, "conflict")), [u], { sleep: noSleep })).rejects.toMatchObject({ status: 409 });
  });
});

describe("idle re-lock", () => {
  const store = (v: string | null) => ({ getItem: (k: string) => (k === IDLE_TEST_KEY ? v : null) });
  it("the test hook can only shorten the idle time", () => {
    expect(idleLockMs(null)).toBe(IDLE_LOCK_MS);
    expect(idleLockMs(store("2000"))).toBe(2000);
    expect(idleLockMs(store(String(IDLE_LOCK_MS * 10)))).toBe(IDLE_LOCK_MS);
    expect(idleLockMs(store("10"))).toBe(IDLE_LOCK_MS);
    expect(idleLockMs(store("abc"))).toBe(IDLE_LOCK_MS);
    expect(idleLockMs({ getItem: () => { throw new Error("denied"); } })).toBe(IDLE_LOCK_MS);
  });
  it("locks after idle with reason 'idle', activity postpones it, sign-out locks with 'user'", async () => {
    vi.useFakeTimers();
    try {
      const gp = await user();
      const s = new Session(2000);
      const seen: [boolean, string | null][] = [];
      s.subscribe((locked, reason) => seen.push([locked, reason]));
      s.unlock(gp.keys);
      vi.advanceTimersByTime(1500);
      s.touch();
      vi.advanceTimersByTime(1500);
      expect(s.unlocked).toBe(gp.keys);
      vi.advanceTimersByTime(600);
      expect(s.unlocked).toBeNull();
      expect(seen).toEqual([[false, null], [true, "idle"]]);
      s.unlock(gp.keys);
      s.lock();
      expect(s.unlocked).toBeNull();
      s.lock(); // already locked: no reason to report
      expect(seen.slice(2)).toEqual([[false, null], [true, "user"], [true, null]]);
      vi.advanceTimersByTime(10_000);
      expect(seen).toHaveLength(5); // no timer left behind after sign-out
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("viewer zoom", () => {
  it("zooms about a point, clamps to 1..8 and recentres at 1", async () => {
    const { zoomAt, MAX_ZOOM } = await import("../../src/app/pages/PhotoViewer");
    const v = zoomAt({ zoom: 1, x: 0, y: 0 }, 2, 100, 50);
    // The point (100, 50) from the centre stays under the pointer: x' = cx - (cx - x) * k.
    expect(v).toEqual({ zoom: 2, x: -100, y: -50 });
    expect(zoomAt(v, 100).zoom).toBe(MAX_ZOOM);
    expect(zoomAt(v, 0.1)).toEqual({ zoom: 1, x: 0, y: 0 });
  });
});

describe("error messages for photo uploads and case moves", () => {
  it("name the problem in plain words and never echo server text", async () => {
    const { apiErrorMessage } = await import("../../src/app/api");
    expect(apiErrorMessage(new ApiError(413, "payload_too_large"))).toMatch(/too large/);
    expect(apiErrorMessage(new ApiError(409, "invalid_transition"))).toMatch(/case has changed/);
    expect(apiErrorMessage(new ApiError(503, "unavailable"))).toMatch(/busy/);
    expect(apiErrorMessage(new ServerUnavailable())).toMatch(/cannot connect/);
    expect(apiErrorMessage(new Error("patient Jane Doe 9434765919"))).toBe("Something went wrong. Try again.");
  });
});
