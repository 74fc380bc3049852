import { hostname } from "node:os";
import type { RunOwner } from "./types.ts";

/**
 * Whether the owner of a run claim is still executing it. On this host the process table
 * answers at once, so a run killed with `kill -9` can be resumed immediately; an owner on
 * another host counts as alive while it renewed its claim within `staleMs`.
 */
export function ownerAlive(owner: RunOwner, seenMsAgo: number, staleMs: number): boolean {
  // Engines within one process keep their own runs apart; the claim guards against others.
  if (owner.host === hostname()) return owner.pid !== process.pid && processExists(owner.pid);
  return seenMsAgo < staleMs;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
