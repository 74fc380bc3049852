import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "./breaker.ts";

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("CircuitBreaker", () => {
  it("opens after consecutive failures, refuses during the cool-down, then probes", () => {
    const c = clock();
    const breaker = new CircuitBreaker("p:m", { consecutiveFailures: 3, coolDownMs: 1000 }, c.now);
    for (let i = 0; i < 2; i++) {
      expect(breaker.tryAcquire()).toBe(true);
      breaker.onFailure();
    }
    breaker.onSuccess(); // resets the streak
    for (let i = 0; i < 3; i++) {
      expect(breaker.tryAcquire()).toBe(true);
      breaker.onFailure();
    }
    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.retryInMs()).toBe(1000);
    c.advance(1000);
    expect(breaker.state).toBe("half-open");
    expect(breaker.tryAcquire()).toBe(true); // the probe
    expect(breaker.tryAcquire()).toBe(false); // only one at a time
    breaker.onFailure();
    expect(breaker.state).toBe("open");
    c.advance(1000);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onSuccess();
    expect(breaker.state).toBe("closed");
    expect(breaker.stats()).toEqual({ state: "closed", opened: 2, rejected: 2 });
  });

  it("opens on the failure ratio once enough calls were seen", () => {
    const breaker = new CircuitBreaker(
      "p:m",
      { consecutiveFailures: 100, failureRatio: 0.5, ratioWindow: 10, minCalls: 6 },
      () => 0,
    );
    const outcomes = [true, false, true, false, true, false];
    for (const ok of outcomes.slice(0, 5)) ok ? breaker.onSuccess() : breaker.onFailure();
    expect(breaker.state).toBe("closed"); // fewer than minCalls
    breaker.onFailure(); // 3 of 6 failed
    expect(breaker.state).toBe("open");
    breaker.onFailure(); // ignored while open
    expect(breaker.stats().opened).toBe(1);
  });

  it("gives back an unused half-open permission", () => {
    const c = clock();
    const breaker = new CircuitBreaker("p:m", { consecutiveFailures: 1, coolDownMs: 10 }, c.now);
    breaker.onFailure();
    c.advance(10);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.releaseUnused();
    expect(breaker.tryAcquire()).toBe(true);
    breaker.releaseUnused();
    breaker.releaseUnused(); // never below zero
    expect(breaker.retryInMs()).toBe(0);
  });
});
