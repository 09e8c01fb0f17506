/**
 * Pins in a real browser (chromium project): the IndexedDB store `pins` of `dermline-device`
 * keeps one record per signed-in user across store objects (a reload), next to the remembered
 * key of deviceStore (the version-2 upgrade keeps the `keys` store working), and nothing is
 * written to localStorage.
 */
import { describe, expect, it } from "vitest";
import { recallUsk, rememberUsk } from "../../src/app/deviceStore";
import { PinStore, indexedDbPinBackend } from "../../src/app/pins";

describe("pins in IndexedDB", () => {
  it("persist per user beside the device key store", async () => {
    localStorage.clear();
    const owner = crypto.randomUUID();
    const other = crypto.randomUUID();
    const backend = indexedDbPinBackend();
    expect(backend.persistent).toBe(true);
    const key = crypto.getRandomValues(new Uint8Array(65));
    const store = new PinStore(owner, backend);
    const [c] = await store.observe([{ userId: "dan", name: "Dr Dan", signingPublicKey: key, encryptionPublicKey: key }]);
    expect(c!.state).toBe("first_use");
    const again = await new PinStore(owner, indexedDbPinBackend()).read();
    expect(again.people.dan!.signingPublicKey).toEqual(key);
    expect(again.people.dan!.name).toBe("Dr Dan");
    expect((await new PinStore(other, indexedDbPinBackend()).read()).people).toEqual({});
    // The key store in the same database still works.
    expect(await rememberUsk(owner, crypto.getRandomValues(new Uint8Array(32)))).toBe(true);
    expect(await recallUsk(owner)).not.toBeNull();
    expect(localStorage.length).toBe(0);
  });
});
