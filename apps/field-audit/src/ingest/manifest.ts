import { z } from "zod";

/**
 * The run manifest (`manifest.json`): what a run directory holds. Paths are relative to
 * the run directory and may not leave it.
 */

export const MANIFEST_FORMAT = "field-audit-run/1";

const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith("/") && !p.includes("\\") && !p.split("/").includes(".."), {
    message: "must be a relative path inside the run directory",
  });

const intrinsics = {
  width: z.number().int().positive().max(16384),
  height: z.number().int().positive().max(16384),
  fx: z.number().positive(),
  fy: z.number().positive(),
  cx: z.number(),
  cy: z.number(),
};

export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  run_id: z.string().min(1).max(200),
  robot: z.string().min(1).max(200),
  started_at: z.iso.datetime({ offset: true }),
  camera: z.strictObject({
    ...intrinsics,
    mount: z.strictObject({
      height_m: z.number().positive().max(10),
      pitch_deg: z.number().min(-89).max(89),
    }),
  }),
  depth: z.strictObject({
    ...intrinsics,
    units: z.literal("mm"),
    max_range_m: z.number().positive().max(65),
  }),
  gps: relPath,
  imu: relPath,
  frames: z
    .array(
      z.strictObject({
        idx: z.number().int().min(0),
        t: z.number().finite(),
        rgb: relPath,
        depth: relPath,
      }),
    )
    .min(3),
});

export type Manifest = z.infer<typeof manifestSchema>;
