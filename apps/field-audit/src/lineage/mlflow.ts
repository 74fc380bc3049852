/**
 * Optional MLflow logging (seed 000, WP-8): with `MLFLOW_TRACKING_URI` set to an MLflow
 * tracking server (http or https), the audit's parameters and metrics are logged through
 * MLflow's REST API; without it, nothing happens and nothing fails. Failures to log are
 * reported, never thrown: lineage is a side channel, not a reason to lose an audit.
 */

export interface MlflowResult {
  logged: boolean;
  reason?: string;
  runId?: string;
}

export interface MlflowInput {
  experiment: string;
  runName: string;
  params: Record<string, string | number>;
  metrics: Record<string, number>;
  tags?: Record<string, string>;
}

export async function logToMlflow(
  input: MlflowInput,
  env: NodeJS.ProcessEnv = process.env,
  fetchImpl: typeof fetch = fetch,
): Promise<MlflowResult> {
  const uri = env["MLFLOW_TRACKING_URI"];
  if (uri === undefined || uri === "") return { logged: false, reason: "MLFLOW_TRACKING_URI is not set" };
  if (!/^https?:\/\//.test(uri))
    return { logged: false, reason: `MLFLOW_TRACKING_URI must be an http(s) tracking server, got "${uri}"` };
  const api = `${uri.replace(/\/+$/, "")}/api/2.0/mlflow`;
  const post = async (path: string, body: unknown) => {
    const response = await fetchImpl(`${api}/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return (await response.json()) as Record<string, unknown>;
  };
  try {
    let experimentId: string;
    try {
      const found = await post("experiments/get-by-name", { experiment_name: input.experiment });
      experimentId = String((found["experiment"] as { experiment_id: string }).experiment_id);
    } catch {
      const created = await post("experiments/create", { name: input.experiment });
      experimentId = String(created["experiment_id"]);
    }
    const now = Date.now();
    const run = await post("runs/create", {
      experiment_id: experimentId,
      run_name: input.runName,
      start_time: now,
    });
    const runId = String((run["run"] as { info: { run_id: string } }).info.run_id);
    await post("runs/log-batch", {
      run_id: runId,
      params: Object.entries(input.params).map(([key, value]) => ({ key, value: String(value) })),
      metrics: Object.entries(input.metrics)
        .filter(([, v]) => Number.isFinite(v))
        .map(([key, value]) => ({ key, value, timestamp: now, step: 0 })),
      tags: Object.entries(input.tags ?? {}).map(([key, value]) => ({ key, value })),
    });
    await post("runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
    return { logged: true, runId };
  } catch (error) {
    return { logged: false, reason: `MLflow logging failed: ${(error as Error).message}` };
  }
}
