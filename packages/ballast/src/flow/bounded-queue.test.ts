import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { BoundedQueue } from "./bounded-queue.ts";
import { metrics } from "./observe.ts";

async function gauge(): Promise<number> {
  return (await metrics.queueDepth.get()).values[0]?.value ?? 0;
}

describe("BoundedQueue", () => {
  it("is first in, first out", () => {
    const queue = new BoundedQueue<number>({ capacity: 3, policy: "reject" });
    expect(queue.shift()).toBeUndefined();
    expect(queue.peek()).toBeUndefined();
    queue.push(1);
    queue.push(2);
    expect(queue.shift()).toBe(1);
    queue.push(3);
    queue.push(4);
    expect(queue.size).toBe(3);
    expect(queue.peek()).toBe(2);
    expect([queue.shift(), queue.shift(), queue.shift(), queue.shift()]).toEqual([2, 3, 4, undefined]);
  });

  it("rejects a push when full with a retryable queue_full error, changing nothing", () => {
    const queue = new BoundedQueue<string>({ capacity: 2, policy: "reject", name: "embeddings" });
    queue.push("a");
    queue.push("b");
    let caught: unknown;
    try {
      queue.push("c");
    } catch (error) {
      caught = error;
    }
    expect(BallastError.hasCode(caught, "queue_full")).toBe(true);
    const error = caught as BallastError;
    expect(error.isRetryable).toBe(true);
    expect(error.message).toContain("embeddings");
    expect(error.message).toMatch(/slow down.*raise capacity/);
    expect(error.details).toEqual({ queue: "embeddings", capacity: 2 });
    expect(queue.size).toBe(2);
    expect(queue.clear()).toEqual(["a", "b"]);
  });

  it("drops the oldest item when full and returns it", () => {
    const queue = new BoundedQueue<number>({ capacity: 2, policy: "drop_oldest" });
    expect(queue.push(1)).toBeUndefined();
    expect(queue.push(2)).toBeUndefined();
    expect(queue.push(3)).toBe(1);
    expect(queue.push(4)).toBe(2);
    expect(queue.size).toBe(2);
    expect(queue.clear()).toEqual([3, 4]);
    expect(queue.clear()).toEqual([]);
  });

  it("reports its depth to onDepth and to the ballast_queue_depth gauge", async () => {
    const before = await gauge();
    const depths: number[] = [];
    const a = new BoundedQueue<number>({
      capacity: 2,
      policy: "drop_oldest",
      onDepth: (d) => depths.push(d),
    });
    const b = new BoundedQueue<number>({ capacity: 5, policy: "reject" });
    a.push(1);
    a.push(2);
    a.push(3);
    b.push(1);
    expect(await gauge()).toBe(before + 3);
    a.shift();
    expect(await gauge()).toBe(before + 2);
    a.clear();
    b.clear();
    expect(await gauge()).toBe(before);
    expect(depths).toEqual([1, 2, 2, 1, 0]);
  });

  it("behaves like a capped array under any sequence of operations (property)", () => {
    const op = fc.oneof(fc.record({ push: fc.integer() }), fc.constant({ shift: true as const }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom("reject" as const, "drop_oldest" as const),
        fc.array(op, { maxLength: 60 }),
        (capacity, policy, ops) => {
          const queue = new BoundedQueue<number>({ capacity, policy });
          const model: number[] = [];
          for (const o of ops) {
            if ("push" in o) {
              if (model.length === capacity && policy === "reject") {
                expect(() => queue.push(o.push)).toThrow(BallastError);
              } else {
                const dropped = model.length === capacity ? model.shift() : undefined;
                model.push(o.push);
                expect(queue.push(o.push)).toBe(dropped);
              }
            } else {
              expect(queue.shift()).toBe(model.shift());
            }
            expect(queue.size).toBe(model.length);
            expect(queue.peek()).toBe(model[0]);
          }
          expect(queue.clear()).toEqual(model);
        },
      ),
    );
  });

  it("rejects an unusable capacity or policy", () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) {
      expect(() => new BoundedQueue({ capacity, policy: "reject" })).toThrow(/capacity/);
    }
    expect(() => new BoundedQueue({ capacity: 1, policy: "newest" as "reject" })).toThrow(/policy/);
  });
});
