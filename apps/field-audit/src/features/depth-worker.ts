import { threadId } from "node:worker_threads";
import { decodeCounter } from "../images.ts";
import { type DepthFeatureParams, type DepthFeatures, depthFeaturesOfFile } from "./depth-features.ts";

/**
 * The piscina worker: decodes and measures a batch of depth files. It returns its decode
 * count and thread id (the pool tests check both), and reports a bad file as data, since
 * an Error crossing the thread boundary loses its code and file name.
 */

export interface DepthTask {
  paths: string[];
  params: DepthFeatureParams;
}

export type DepthTaskResult =
  | { ok: true; features: DepthFeatures[]; decoded: number; threadId: number }
  | { ok: false; error: { name: string; code: string; file: string; problem: string; message: string } };

export function runDepthTask(task: DepthTask): DepthTaskResult {
  const before = decodeCounter.depth;
  try {
    const features = task.paths.map((path) => depthFeaturesOfFile(path, task.params));
    return { ok: true, features, decoded: decodeCounter.depth - before, threadId };
  } catch (error) {
    const e = error as { name?: string; code?: string; file?: string; problem?: string; message?: string };
    return {
      ok: false,
      error: {
        name: e.name ?? "Error",
        code: e.code ?? "depth_failed",
        file: e.file ?? task.paths.join(", "),
        problem: e.problem ?? e.message ?? String(error),
        message: e.message ?? String(error),
      },
    };
  }
}

export default runDepthTask;
