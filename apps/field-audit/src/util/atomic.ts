import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Atomic outputs: write next to the target, flush to disk, then rename over it, so a reader
 * (or a crash) sees the old file or the new one and never half of one.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** A fresh staging directory beside `target`, for outputs that are a whole folder. */
export async function stagingDir(target: string): Promise<string> {
  const dir = join(
    dirname(target),
    `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.staging`,
  );
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Moves a finished staging folder to `target`, replacing an older one: the old folder is
 * moved aside first and deleted only after the new one is in place.
 */
export async function commitDir(staging: string, target: string): Promise<void> {
  let aside: string | undefined;
  if (await exists(target)) {
    aside = `${staging}.old`;
    await rename(target, aside);
  }
  try {
    await rename(staging, target);
  } catch (error) {
    if (aside !== undefined) await rename(aside, target);
    throw error;
  }
  if (aside !== undefined) await rm(aside, { recursive: true, force: true });
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
