/**
 * `@ballast/service-ambitions`: the seed-001 batch generation pipeline on the ballast runtime.
 * The CLI is `src/main.ts`; these exports let other code (benchmarks, tests, your own
 * scripts) run the workflow with their own models.
 */
export { SAMPLE_DIR, sampleSources } from "./cli/options.ts";
export { runCli } from "./cli/program.ts";
export { costReport } from "./cost-report.ts";
export { MappingError, ProcessingError } from "./errors.ts";
export { CATALOGUE_KINDS, type LoadedInputs, loadInputs, type PipelineData } from "./inputs.ts";
export { migrateJsonl, migrateRecord } from "./migrate/schema-migration.ts";
export { defaultModelFactory, type ModelFactory } from "./models.ts";
export { offlineAnswer } from "./offline/responder.ts";
export { featuresAnswerSchema, mappingAnswerSchema } from "./pipeline/answers.ts";
export { descriptionPrompt, featuresPrompt, mappingPrompt } from "./pipeline/prompts.ts";
export { createRuntime, installRuntime, type PipelineRuntime } from "./pipeline/runtime.ts";
export { featureId } from "./pipeline/service.ts";
export { type PipelineInput, type PipelineSummary, serviceAmbitions } from "./pipeline/workflow.ts";
export { QuarantineStore } from "./quarantine/store.ts";
export { parseSettings, type Settings, type SettingsInput } from "./settings.ts";
