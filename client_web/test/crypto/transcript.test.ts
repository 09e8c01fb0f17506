/**
 * The transcript check (transcript.ts) against EXACTLY the Python reference vectors
 * tests/vectors/dermline/transcript.json: the same findings for the same thread, from entries
 * and from real 0x0e records. Runs in Node and in Chromium.
 */
import { describe, expect, it } from "vitest";
import { fromHex } from "../../src/crypto/bytes";
import { MessageHeaderError } from "../../src/crypto/errors";
import { FINDING_ORDER, checkTranscript, entryFromRecord } from "../../src/crypto/transcript";
import { loadVectors } from "../helpers/vectors";

type T = Record<string, unknown> & { tcId: number; comment: string; result: "valid" | "invalid"; flags: string[] };
interface VFile {
  numberOfTests: number;
  testGroups: { type: string; tests: T[] }[];
}
interface Msg {
  seq: number;
  client_message_id: string;
  previous_hash: string;
  message_hash: string;
}

const f = await loadVectors<VFile>("dermline/transcript.json");
const group = (type: string): T[] => f.testGroups.find((g) => g.type === type)?.tests ?? [];
const cases = (type: string) => group(type).map((t) => [t.tcId, t.comment, t] as const);

describe("transcript.json", () => {
  it("covers the file, and every finding appears", () => {
    expect(f.testGroups.flatMap((g) => g.tests).length).toBe(f.numberOfTests);
    expect(f.testGroups.map((g) => g.type)).toEqual(["Transcript", "TranscriptRecords"]);
    const seen = new Set(f.testGroups.flatMap((g) => g.tests).flatMap((t) => (t.findings as string[][]).flat()));
    expect([...seen].sort()).toEqual([...FINDING_ORDER].sort());
  });

  it.each(cases("Transcript"))("Transcript tc %i %s", (_i, _c, t) => {
    const entries = (t.messages as Msg[]).map((m) => ({
      seq: m.seq,
      clientMessageId: m.client_message_id,
      previousHash: fromHex(m.previous_hash),
      messageHash: fromHex(m.message_hash),
    }));
    const findings = checkTranscript(entries);
    expect(findings).toEqual(t.findings);
    expect(findings.every((x) => x.length === 0)).toBe(t.result === "valid");
  });

  it.each(cases("TranscriptRecords"))("TranscriptRecords tc %i %s", async (_i, _c, t) => {
    const records = (t.records as string[]).map(fromHex);
    const entries = await Promise.all(records.map((r, i) => entryFromRecord(i + 1, r)));
    expect(checkTranscript(entries)).toEqual(t.findings);
  });

  it("a malformed record is the caller's unreadable item, and the next message shows a gap", async () => {
    const records = (group("TranscriptRecords")[0]!.records as string[]).map(fromHex);
    const broken = records[1]!.slice(0, 10);
    await expect(entryFromRecord(2, broken)).rejects.toThrow(MessageHeaderError);
    const readable = [records[0]!, records[2]!, records[3]!];
    const entries = await Promise.all(readable.map((r, i) => entryFromRecord(i, r)));
    expect(checkTranscript(entries)).toEqual([[], ["gap"], []]);
  });

  it("misuse: hashes of the wrong length, a bad id", () => {
    const ok = { seq: 1, clientMessageId: crypto.randomUUID(), previousHash: new Uint8Array(32), messageHash: new Uint8Array(32) };
    expect(checkTranscript([ok])).toEqual([[]]);
    expect(() => checkTranscript([{ ...ok, messageHash: new Uint8Array(31) }])).toThrow(RangeError);
    expect(() => checkTranscript([{ ...ok, clientMessageId: "nope" }])).toThrow(TypeError);
    expect(() => checkTranscript([{ ...ok, seq: -1 }])).toThrow(RangeError);
  });
});
