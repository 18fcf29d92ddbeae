// The facts the panel shares with the integration and the collector, read from the report
// schema (schemas/report-v1.schema.json) when the panel is built: the job outcomes, the
// duration buckets and the report sections, in the schema's order. esbuild bundles only the
// schema's `$defs` (a named import of a JSON file's top-level key), not the whole schema.
import { $defs } from "../../schemas/report-v1.schema.json";

/** `started`, then the outcomes a started job ends in. */
export const JOB_OUTCOMES: readonly string[] = $defs.outcome.enum;
/** Duration ranges of completed jobs, shortest first. */
export const DURATION_BUCKETS: readonly string[] = $defs.duration_bucket.enum;
/** The report sections a user may share or leave out. */
export const SECTIONS: readonly string[] = $defs.section.enum;
