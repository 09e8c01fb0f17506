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
