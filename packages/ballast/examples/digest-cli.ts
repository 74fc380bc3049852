// Child process of the demo: starts or resumes one run of the digest workflow.
//   node --conditions=ballast-source digest-cli.ts start <runId> | resume <runId>
import { createBallast, openJournal } from "ballast";
import { articles } from "./articles.ts";
import { digest } from "./digest-workflow.ts";

const [command, runId] = process.argv.slice(2);
if ((command !== "start" && command !== "resume") || runId === undefined) {
  console.error("usage: digest-cli.ts start|resume <runId>");
  process.exit(2);
}
const journal = await openJournal();
const ballast = createBallast({ journal, workflows: [digest] });
const handle =
  command === "start"
    ? await ballast.start(digest, articles, { runId, seed: "demo" })
    : await ballast.resume(runId);
const result = await handle.wait();
process.stdout.write(`${JSON.stringify({ result })}\n`);
await journal.close();
