// Reading a program run under mocks (cli/evaluate.ts): config values as the CLI passes them, and
// the registered resources by type and by name. Shared by the program's tests.
import { strict as assert } from "assert";
import type { ConfigValues, ProgramRun, RecordedResource } from "../../cli/evaluate";

/** Config as the CLI hands it over: strings stay, structured values become JSON. */
export function cliValues(values: Record<string, unknown>): ConfigValues {
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

export const ofType = (run: ProgramRun, type: string): RecordedResource[] => run.resources.filter((r) => r.type === type);

/** The resource registered under `name`; fails the test when there is none. */
export function named(run: ProgramRun, name: string): RecordedResource {
    const found = run.resources.find((r) => r.name === name);
    assert.ok(found, `no resource ${name}`);
    return found;
}
