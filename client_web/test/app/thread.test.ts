/**
 * The thread as a reader sees it (docs/protocol.md sections 22-24): every message opened with
 * the key of its epoch and verified, the transcript checked in the server's order with each
 * finding attached to its message, a message that fails to open shown as one unreadable item
 * while the rest loads, 0x07 messages marked, and a sender that chains to its own last message.
 * The threads are real sealed records; the "server" is the list handed to openMessages.
 */
import { describe, expect, it } from "vitest";
import type { CaseDetail, Participant, ThreadMessage } from "../../src/app/api";
import { SendChain, buildNewCase, buildRotation, currentEpoch, openMessages, openMyCaseKeys, openThread, sealText } from "../../src/app/cases";
import {
  ContentType,
  GENESIS_HASH,
  encodeContent,
  equalBytes,
  generateCaseKey,
  messageHash,
  sealLegacyMessageFromParts,
  signingIdentity,
  wrapCaseKey,
} from "../../src/app/cryptoFacade";
import { hpkeRecipientFromScalar } from "../../src/crypto/primitives/hpke";
import { generateKeyPair, openCaseKeyWrap } from "../../src/crypto/index";
import { history, user } from "../helpers/people";

type Person = Awaited<ReturnType<typeof user>>;

async function setup() {
  const gp = await user();
  const derm = await user();
  const records = await user();
  const made = await buildNewCase(gp.keys, {
    practiceId: "practice-1",
    recordsPublicKey: records.enc.publicKey,
    serviceId: "svc",
    dermatologists: [
      { userId: derm.keys.userId, displayName: "Dr Derm", roles: [], encryptionPublicKey: derm.enc.publicKey, signingPublicKey: derm.sig.publicKey },
    ],
    priority: "routine",
    history,
  });
  const participants: Participant[] = [
    { userId: gp.keys.userId, role: "gp", displayName: "Dr GP", encryptionPublicKey: gp.enc.publicKey, signingPublicKey: gp.sig.publicKey },
    { userId: derm.keys.userId, role: "dermatologist", displayName: "Dr Derm", encryptionPublicKey: derm.enc.publicKey, signingPublicKey: derm.sig.publicKey },
  ];
  const caseId = made.request.caseId;
  const detail: CaseDetail = {
    case: {
      caseId,
      practiceId: "practice-1",
      serviceId: "svc",
      createdBy: gp.keys.userId,
      state: "in_review",
      priority: "routine",
      updatedAt: "",
      outcomeCategory: null,
      lastSeq: 1,
      claimedBy: derm.keys.userId,
    },
    participants,
    caseKeys: made.request.caseKeys.map((k) => ({ ...k, epoch: 0 })),
    outcome: null,
  };
  const caseKey = (await openMyCaseKeys(derm.keys, detail)).get(0)!;
  const msgs: ThreadMessage[] = [
    { seq: 1, clientMsgId: made.firstMessage.clientMsgId, senderId: gp.keys.userId, envelope: made.firstMessage.envelope, createdAt: "" },
  ];
  let seq = 1;
  /** Seal a text by `who` naming `previous` (default: the newest message so far) and append it. */
  const say = async (who: Person, text: string, previous?: Uint8Array, epoch = 0, key = caseKey): Promise<ThreadMessage> => {
    const prev = previous ?? (await messageHash(msgs[msgs.length - 1]!.envelope));
    const m = await sealText(who.keys, { caseKey: key, caseId, epoch, previousHash: prev, text });
    const t: ThreadMessage = { seq: ++seq, clientMsgId: m.clientMsgId, senderId: who.keys.userId, envelope: m.envelope, createdAt: "" };
    msgs.push(t);
    return t;
  };
  return { gp, derm, detail, caseKey, caseId, msgs, say };
}

const texts = (r: Awaited<ReturnType<typeof openMessages>>) => r.entries.map((e) => (e.contentType === ContentType.CLINICAL_HISTORY ? "history" : String(e.body.text)));
const findings = (r: Awaited<ReturnType<typeof openMessages>>) => r.entries.map((e) => e.findings);

describe("the thread a reader is shown", () => {
  it("an honest thread, with two people sending at once, shows no warning", async () => {
    const { gp, derm, detail, caseKey, msgs, say } = await setup();
    const first = await say(derm, "How long has it been there?");
    const h = await messageHash(first.envelope);
    await say(gp, "Six weeks.", h);
    await say(derm, "Any bleeding?", h); // concurrent with the GP's reply: not a finding
    const r = await openMessages(caseKey, detail, msgs);
    expect(texts(r)).toEqual(["history", "How long has it been there?", "Six weeks.", "Any bleeding?"]);
    expect(findings(r)).toEqual([[], [], [], []]);
    expect(r.unreadable).toEqual([]);
    expect(equalBytes(r.lastHash, await messageHash(msgs[3]!.envelope))).toBe(true);
  });

  it("a dropped message shows a gap at the next one; the rest loads", async () => {
    const { gp, derm, detail, caseKey, msgs, say } = await setup();
    await say(derm, "Please send a dermoscopic photo.");
    await say(gp, "Sent.");
    const dropped = msgs.filter((m) => m.seq !== 2);
    const r = await openMessages(caseKey, detail, dropped);
    expect(texts(r)).toEqual(["history", "Sent."]);
    expect(findings(r)).toEqual([[], ["gap"]]);
  });

  it("withholding the first message shows genesis and gap at the new first", async () => {
    const { gp, derm, detail, caseKey, msgs, say } = await setup();
    await say(derm, "Question");
    await say(gp, "Answer");
    const r = await openMessages(caseKey, detail, msgs.slice(1));
    expect(findings(r)).toEqual([["genesis", "gap"], []]);
  });

  it("two messages swapped in the server's order show a reorder (the order is never repaired)", async () => {
    const { gp, derm, detail, caseKey, msgs, say } = await setup();
    await say(derm, "One");
    await say(gp, "Two");
    const swapped = [msgs[0]!, msgs[2]!, msgs[1]!];
    const r = await openMessages(caseKey, detail, swapped);
    expect(texts(r)).toEqual(["history", "Two", "One"]);
    expect(findings(r)).toEqual([[], ["reorder"], []]);
  });

  it("a replayed message is flagged where it appears again", async () => {
    const { derm, detail, caseKey, msgs, say } = await setup();
    const urgent = await say(derm, "This needs an urgent referral.");
    await say(derm, "Booked.");
    const r = await openMessages(caseKey, detail, [...msgs, { ...urgent, seq: 4 }]);
    expect(findings(r)).toEqual([[], [], [], ["replay"]]);
  });

  it("an injected, forged or damaged message is one unreadable item with its reason", async () => {
    const { gp, derm, detail, caseKey, msgs, say, caseId } = await setup();
    await say(derm, "Fine so far.");
    // Sealed by the dermatologist but naming the GP as sender: the GP's key does not verify it.
    const forged = await sealText(derm.keys, { caseKey, caseId, previousHash: await messageHash(msgs[1]!.envelope), text: "forged" });
    const forgedEnv = forged.envelope.slice();
    forgedEnv.set(Uint8Array.from(gp.keys.userId.replace(/-/g, "").match(/../g)!.map((x) => parseInt(x, 16))), 39);
    const outsider = await user();
    const byOutsider = await sealText(outsider.keys, { caseKey, caseId, previousHash: GENESIS_HASH, text: "hello" });
    // A message under another key (a server inventing its own case key) and plain junk.
    const otherKey = await sealText(gp.keys, { caseKey: generateCaseKey(), caseId, previousHash: GENESIS_HASH, text: "other key" });
    const list: ThreadMessage[] = [
      ...msgs,
      { seq: 3, clientMsgId: forged.clientMsgId, senderId: gp.keys.userId, envelope: forgedEnv, createdAt: "" },
      { seq: 4, clientMsgId: byOutsider.clientMsgId, senderId: outsider.keys.userId, envelope: byOutsider.envelope, createdAt: "" },
      { seq: 5, clientMsgId: otherKey.clientMsgId, senderId: gp.keys.userId, envelope: otherKey.envelope, createdAt: "" },
      { seq: 6, clientMsgId: crypto.randomUUID(), senderId: gp.keys.userId, envelope: new Uint8Array([1, 1, 14, 0]), createdAt: "" },
    ];
    await say(gp, "Still here.", await messageHash(msgs[1]!.envelope));
    list.push({ ...msgs[msgs.length - 1]!, seq: 7 });
    const r = await openMessages(caseKey, detail, list);
    expect(texts(r)).toEqual(["history", "Fine so far.", "Still here."]);
    expect(findings(r)).toEqual([[], [], []]);
    expect(r.unreadable.map((u) => [u.seq, u.reason])).toEqual([
      [3, "not_verified"],
      [4, "not_participant"],
      [5, "not_verified"],
      [6, "damaged"],
    ]);
    // Items keep the server's order: readable and unreadable interleaved as given.
    expect(r.items.map((i) => i.kind)).toEqual(["message", "message", "unreadable", "unreadable", "unreadable", "unreadable", "message"]);
  });

  it("a message that names an unreadable one shows a gap", async () => {
    const { gp, derm, detail, caseKey, msgs, say } = await setup();
    const bad = await say(derm, "This will be altered.");
    await say(gp, "Reply to it.");
    const altered = bad.envelope.slice();
    altered[200]! ^= 1;
    const r = await openMessages(caseKey, detail, [msgs[0]!, { ...bad, envelope: altered }, msgs[2]!]);
    expect(r.unreadable.map((u) => u.reason)).toEqual(["not_verified"]);
    expect(findings(r)).toEqual([[], ["gap"]]);
  });

  it("a 0x07 message from an older app opens, marked as not bound to the commitment", async () => {
    const { gp, detail, caseKey, caseId, msgs } = await setup();
    const clientMessageId = crypto.randomUUID();
    const envelope = await sealLegacyMessageFromParts(encodeContent(ContentType.TEXT, { text: "old app" }), {
      caseKey,
      caseId,
      epoch: 0,
      clientMessageId,
      senderUserId: gp.keys.userId,
      sender: signingIdentity(gp.keys.signing),
      contentType: ContentType.TEXT,
      previousHash: await messageHash(msgs[0]!.envelope),
      timestampMs: 1n,
      nonce: new Uint8Array(12),
    });
    const r = await openMessages(caseKey, detail, [...msgs, { seq: 2, clientMsgId: clientMessageId, senderId: gp.keys.userId, envelope, createdAt: "" }]);
    expect(r.entries.map((e) => e.legacy)).toEqual([false, true]);
    expect(findings(r)).toEqual([[], []]);
  });

  it("each message opens with its epoch's key; someone without the new epoch's wrap cannot read it", async () => {
    const { gp, derm, detail, msgs, say, caseId, caseKey } = await setup();
    await say(derm, "Before the change.");
    // Epoch 1: a fresh key wrapped by the GP to the GP and the dermatologist only.
    const k1 = generateCaseKey();
    const wrap = async (to: Person) => ({
      epoch: 1,
      recipientKind: "user" as const,
      recipientId: to.keys.userId,
      wrappedKey: await wrapCaseKey(k1, { caseId, epoch: 1, recipientPublicKey: to.enc.publicKey, wrapperUserId: gp.keys.userId, wrapper: signingIdentity(gp.keys.signing) }),
    });
    const rotated: CaseDetail = { ...detail, caseKeys: [...detail.caseKeys, await wrap(gp), await wrap(derm)] };
    await say(gp, "After the change.", undefined, 1, k1);
    const keys = await openMyCaseKeys(derm.keys, rotated);
    expect([...keys.keys()]).toEqual([0, 1]);
    expect(currentEpoch(keys)).toBe(1);
    const r = await openMessages(keys, rotated, msgs);
    expect(texts(r)).toEqual(["history", "Before the change.", "After the change."]);
    expect(r.entries.map((e) => e.epoch)).toEqual([0, 0, 1]);
    expect(findings(r)).toEqual([[], [], []]);
    // Keys already held are kept; only the new epoch is unwrapped.
    const again = await openMyCaseKeys(derm.keys, rotated, new Map([[0, caseKey]]));
    expect(again.get(0)).toBe(caseKey);
    // Holding only epoch 0 (as a removed participant would): the later message is unreadable.
    const old = await openMessages(new Map([[0, caseKey]]), rotated, msgs);
    expect(texts(old)).toEqual(["history", "Before the change."]);
    expect(old.unreadable.map((u) => u.reason)).toEqual(["no_key"]);
    // openThread with the GP's own keys reads everything too.
    expect((await openThread(gp.keys, rotated, msgs)).entries).toHaveLength(3);
  });
});

describe("the sender's chain", () => {
  it("chains to its own last sent message until the thread shows it, then to the thread", async () => {
    const c = new SendChain();
    const a = new Uint8Array(32).fill(1);
    const mine = new Uint8Array(32).fill(2);
    const later = new Uint8Array(32).fill(3);
    expect(c.head()).toEqual(GENESIS_HASH);
    c.loaded(a, [a]);
    expect(c.head()).toEqual(a);
    c.sent(mine);
    expect(c.head()).toEqual(mine); // two sends without a reload chain one after the other
    c.loaded(a, [a]); // a reload that does not show my message yet keeps chaining to it
    expect(c.head()).toEqual(mine);
    c.loaded(later, [a, mine, later]);
    expect(c.head()).toEqual(later);
    // A fresh page with a message still queued in the outbox chains to the queued one.
    expect(new SendChain().head(mine)).toEqual(mine);
  });

  it("two messages sent without reading in between do not fork", async () => {
    const { gp, detail, caseKey, caseId, msgs } = await setup();
    const chain = new SendChain();
    const r0 = await openMessages(caseKey, detail, msgs);
    chain.loaded(r0.lastHash, r0.hashes);
    for (const text of ["first", "second"]) {
      const m = await sealText(gp.keys, { caseKey, caseId, previousHash: chain.head(), text });
      chain.sent(await messageHash(m.envelope));
      msgs.push({ seq: msgs.length + 1, clientMsgId: m.clientMsgId, senderId: gp.keys.userId, envelope: m.envelope, createdAt: "" });
    }
    const r = await openMessages(caseKey, detail, msgs);
    expect(findings(r)).toEqual([[], [], []]);
    // Had the second named the same previous message as the first, a reader missing the first
    // would see a gap only at one of them; with the chain, dropping the first shows a gap.
    const r2 = await openMessages(caseKey, detail, [msgs[0]!, msgs[2]!]);
    expect(findings(r2)).toEqual([[], ["gap"]]);
  });
});

describe("a new epoch after a removal", () => {
  it("wraps a fresh key to the remaining participants and the records keys only; the removed person's real keys open nothing after", async () => {
    const { gp, derm, detail, msgs, say, caseId } = await setup();
    const removed = await user();
    const records = await generateKeyPair();
    // The removed dermatologist held epoch 0 (as if shared to them) and is no longer listed.
    const rotated = await buildRotation(gp.keys, { detail, epoch: 1, recordsKeys: [{ orgId: "practice-1", publicKey: records.publicKey }] });
    expect(rotated.map((k) => [k.recipientKind, k.recipientId])).toEqual([
      ["user", gp.keys.userId],
      ["user", derm.keys.userId],
      ["organisation", "practice-1"],
    ]);
    const after: CaseDetail = { ...detail, case: { ...detail.case, keyEpoch: 1 }, caseKeys: [...detail.caseKeys, ...rotated.map((k) => ({ ...k, epoch: 1 }))] };
    const dermKeys = await openMyCaseKeys(derm.keys, after);
    expect(currentEpoch(dermKeys)).toBe(1);
    await say(derm, "After the removal.", undefined, 1, dermKeys.get(1)!);
    const r = await openMessages(dermKeys, after, msgs);
    expect(r.entries.map((e) => e.epoch)).toEqual([0, 1]);
    // The records key opens its epoch-1 wrap (the record of the case stays complete).
    const rr = await hpkeRecipientFromScalar(records.privateKey, records.publicKey);
    const wrap = rotated.find((k) => k.recipientKind === "organisation")!.wrappedKey;
    const k1 = await openCaseKeyWrap(wrap, { caseId, epoch: 1, recipient: { ...rr, keyId: records.keyId }, wrapperSigningPublicKey: gp.sig.publicKey });
    expect(k1).toEqual(dermKeys.get(1));
    // The removed person, with their real keys, has no wrap of epoch 1 and no wrap of epoch 1
    // opens with their key.
    await expect(openMyCaseKeys(removed.keys, after)).rejects.toThrow("no case key for this user");
    for (const k of rotated.filter((x) => x.recipientKind === "user")) {
      await expect(
        openCaseKeyWrap(k.wrappedKey, {
          caseId,
          epoch: 1,
          recipient: { privateKey: removed.keys.encryption.privateKey, publicKey: removed.enc.publicKey, keyId: removed.enc.keyId },
          wrapperSigningPublicKey: gp.sig.publicKey,
        }),
      ).rejects.toThrow();
    }
    // Keys this device does not trust are never wrapped to.
    await expect(buildRotation(gp.keys, { detail: { ...detail, participants: [{ ...detail.participants[1]!, untrusted: true }] }, epoch: 1, recordsKeys: [] })).rejects.toThrow("not trusted");
  });
});
