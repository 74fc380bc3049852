import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Admission, ModelLimiter } from "./limiter.ts";

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

const clock = () => Date.now();

/** Admissions in order of resolution, with the (fake) time at which each was admitted. */
function track(limiter: ModelLimiter, n: number, tokens: number, fairKey?: (i: number) => string) {
  const admitted: { i: number; at: number; admission: Admission }[] = [];
  for (let i = 0; i < n; i++) {
    void limiter.admit(tokens, fairKey?.(i)).then((admission) => {
      admission.dispatched();
      admitted.push({ i, at: Date.now(), admission });
    });
  }
  return admitted;
}

describe("ModelLimiter", () => {
  it("an unlimited limiter admits everything at once", async () => {
    const limiter = new ModelLimiter("m", {}, clock);
    expect(limiter.unlimited).toBe(true);
    const a = await limiter.admit(1_000_000);
    a.reconcile(5);
    a.cancel();
    a.release();
    expect(limiter.stats().admitted).toBe(0);
  });

  it("never admits more than rpm requests in any window", async () => {
    const limiter = new ModelLimiter("m", { rpm: 3, windowMs: 1000, guardMs: 0 }, clock);
    const admitted = track(limiter, 8, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(admitted.map((a) => a.at)).toEqual([0, 0, 0]);
    await vi.advanceTimersByTimeAsync(1001);
    expect(admitted.map((a) => a.at)).toEqual([0, 0, 0, 1001, 1001, 1001]);
    await vi.advanceTimersByTimeAsync(1001);
    expect(admitted).toHaveLength(8);
    // any window of 1000 ms holds at most 3 admissions
    const times = admitted.map((a) => a.at);
    for (const t of times) expect(times.filter((u) => u >= t && u < t + 1000).length).toBeLessThanOrEqual(3);
    expect(admitted.map((a) => a.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("reserves tokens at admission and frees the over-reservation on reconcile", async () => {
    const limiter = new ModelLimiter("m", { tpm: 1000, windowMs: 60_000 }, clock);
    const admitted = track(limiter, 3, 400);
    await vi.advanceTimersByTimeAsync(0);
    expect(admitted).toHaveLength(2);
    expect(limiter.stats().tokensInWindow).toBe(800);
    expect(limiter.stats().waiting).toBe(1);
    admitted[0]?.admission.reconcile(100); // used far less than reserved
    await vi.advanceTimersByTimeAsync(0);
    expect(admitted).toHaveLength(3);
    expect(limiter.stats().tokensInWindow).toBe(900);
    // reconciling upwards counts the excess too
    admitted[1]?.admission.reconcile(450);
    expect(limiter.stats().tokensInWindow).toBe(950);
  });

  it("waits for the window to expire when the tokens do not fit", async () => {
    const limiter = new ModelLimiter("m", { tpm: 1000, windowMs: 1000, guardMs: 0 }, clock);
    const first = await limiter.admit(900);
    first.dispatched();
    first.release();
    vi.advanceTimersByTime(300);
    const admitted = track(limiter, 1, 500);
    await vi.advanceTimersByTimeAsync(600);
    expect(admitted).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(200);
    expect(admitted[0]?.at).toBe(1001);
  });

  it("cancel takes a request back out of the window", async () => {
    const limiter = new ModelLimiter("m", { rpm: 1, tpm: 100, windowMs: 1000 }, clock);
    const a = await limiter.admit(100);
    const admitted = track(limiter, 1, 100);
    await vi.advanceTimersByTimeAsync(10);
    expect(admitted).toHaveLength(0);
    a.cancel();
    a.cancel();
    await vi.advanceTimersByTimeAsync(0);
    expect(admitted).toHaveLength(1);
    expect(limiter.stats().requestsInWindow).toBe(1);
  });

  it("caps concurrency and hands the slot on when a call ends", async () => {
    const limiter = new ModelLimiter("m", { concurrency: 2 }, clock);
    const admitted = track(limiter, 5, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(admitted).toHaveLength(2);
    expect(limiter.stats().inFlight).toBe(2);
    admitted[0]?.admission.release();
    admitted[0]?.admission.release(); // idempotent
    await vi.advanceTimersByTimeAsync(0);
    expect(admitted).toHaveLength(3);
    expect(limiter.stats()).toMatchObject({ inFlight: 2, waiting: 2 });
  });

  it("serves fairness keys round-robin", async () => {
    const limiter = new ModelLimiter("m", { concurrency: 1 }, clock);
    const holder = await limiter.admit(1, "z");
    // a big fan-out from run A, then two calls from run B
    const admitted = track(limiter, 6, 1, (i) => (i < 4 ? "A" : "B"));
    for (let n = 0; n < 6; n++) {
      (n === 0 ? holder : admitted[n - 1]?.admission)?.release();
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(admitted.map((a) => a.i)).toEqual([0, 4, 1, 5, 2, 3]);
  });

  it("rejects a waiter whose signal aborts, and a request that can never fit", async () => {
    const limiter = new ModelLimiter("m", { concurrency: 1, tpm: 50 }, clock);
    const held = await limiter.admit(1);
    const controller = new AbortController();
    const waiting = limiter.admit(1, "x", controller.signal);
    controller.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
    expect(limiter.stats().waiting).toBe(0);
    await expect(limiter.admit(1, "x", controller.signal)).rejects.toThrow("stop");
    await expect(limiter.admit(51)).rejects.toMatchObject({ code: "request_exceeds_tpm" });
    held.release();
    await expect(limiter.admit(1)).resolves.toBeDefined();
  });

  it("counts a request from its dispatch, plus the guard, and never drops one not yet sent", async () => {
    const limiter = new ModelLimiter("m", { rpm: 1, windowMs: 1000, guardMs: 100 }, clock);
    const first = await limiter.admit(1);
    vi.advanceTimersByTime(5000); // admitted long ago, but not sent yet: still in the window
    expect(limiter.stats().requestsInWindow).toBe(1);
    first.dispatched();
    first.dispatched(); // the first dispatch counts
    const admitted = track(limiter, 1, 1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(admitted).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(101);
    expect(admitted[0]?.at).toBe(6101);
  });

  it("keeps the window small over many admissions", async () => {
    const limiter = new ModelLimiter("m", { rpm: 1_000_000, windowMs: 10 }, clock);
    for (let i = 0; i < 3000; i++) {
      const a = await limiter.admit(1);
      a.dispatched();
      a.release();
      vi.advanceTimersByTime(1);
    }
    expect(limiter.stats().requestsInWindow).toBeLessThanOrEqual(10);
  });
});
