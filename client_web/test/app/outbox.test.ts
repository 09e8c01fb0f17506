/**
 * The outbox delivers every message exactly as sealed, in order, after any number of transient
 * failures; a permanent refusal does not block the rest; nothing is sent twice once acked.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, ServerUnavailable } from "../../src/app/api";
import { Outbox } from "../../src/app/outbox";

const item = (n: number, caseId = "c1") => ({
  caseId,
  clientMsgId: `m${n}`,
  envelope: new Uint8Array([n]),
  preview: `text ${n}`,
  hash: new Uint8Array([n, n]),
});

describe("outbox", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("retries transient failures with backoff and delivers in order, once each", async () => {
    const delivered: string[] = [];
    let down = true;
    const ob = new Outbox(async (_c, id) => {
      if (down) throw new ServerUnavailable();
      delivered.push(id);
    });
    await ob.add(item(1));
    await ob.add(item(2));
    expect(delivered).toEqual([]);
    expect(ob.pending("c1").map((i) => i.clientMsgId)).toEqual(["m1", "m2"]);
    expect(ob.lastHash("c1")).toEqual(new Uint8Array([2, 2]));
    await vi.advanceTimersByTimeAsync(1000); // still down: backs off to 2 s, 4 s ...
    down = false;
    await vi.advanceTimersByTimeAsync(4000);
    expect(delivered).toEqual(["m1", "m2"]);
    expect(ob.items).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(delivered).toEqual(["m1", "m2"]);
  });

  it("an explicit flush (back online) sends at once", async () => {
    const delivered: string[] = [];
    let down = true;
    const ob = new Outbox(async (_c, id) => {
      if (down) throw new TypeError("network");
      delivered.push(id);
    });
    await ob.add(item(1));
    down = false;
    await ob.flush();
    expect(delivered).toEqual(["m1"]);
  });

  it("a permanent refusal marks the item failed and lets the others through", async () => {
    const delivered: string[] = [];
    const ob = new Outbox(async (_c, id) => {
      if (id === "m1") throw new ApiError(422, "validation_failed");
      delivered.push(id);
    });
    await ob.add(item(1));
    await ob.add(item(2));
    expect(delivered).toEqual(["m2"]);
    expect(ob.items.map((i) => [i.clientMsgId, i.failed])).toEqual([["m1", true]]);
    expect(ob.lastHash("c1")).toBeNull();
    ob.clear();
    expect(ob.items).toHaveLength(0);
  });
});

describe("outbox and key epochs", () => {
  it("keeps the refusal code of an epoch refusal and resends resealed items in order", async () => {
    const sent: [string, number][] = [];
    let epoch = 0;
    const ob = new Outbox(async (_c, id, env) => {
      if (env[0] !== epoch) throw new ApiError(409, env[0]! < epoch ? "stale_epoch" : "key_rotation_required");
      sent.push([id, env[0]!]);
    });
    epoch = 1; // the case moved on: items sealed at epoch 0 are refused
    await ob.add({ ...item(1), envelope: new Uint8Array([0]) });
    await ob.add({ ...item(2), envelope: new Uint8Array([0]) });
    await ob.add({ ...item(3, "other"), envelope: new Uint8Array([1]) });
    expect(sent).toEqual([["m3", 1]]);
    expect(ob.epochRefused("c1").map((i) => [i.clientMsgId, i.failure])).toEqual([
      ["m1", "stale_epoch"],
      ["m2", "stale_epoch"],
    ]);
    const order: string[] = [];
    const n = await ob.reseal("c1", async (i) => {
      order.push(i.preview);
      return { envelope: new Uint8Array([1]), hash: new Uint8Array([9]) };
    });
    expect(n).toBe(2);
    expect(order).toEqual(["text 1", "text 2"]);
    expect(sent).toEqual([
      ["m3", 1],
      ["m1", 1],
      ["m2", 1],
    ]);
    expect(ob.items).toHaveLength(0);
  });

  it("other refusals are not resealed", async () => {
    const ob = new Outbox(async () => {
      throw new ApiError(422, "signature_invalid");
    });
    await ob.add(item(1));
    expect(ob.epochRefused("c1")).toEqual([]);
    expect(await ob.reseal("c1", async () => ({ envelope: new Uint8Array(), hash: new Uint8Array() }))).toBe(0);
  });
});
