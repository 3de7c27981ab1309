// Records what a version of this program registers for each of its shipped stacks: the resource
// set (URN, type, and the options the engine keeps in state) that an upgrade must not delete.
// The fixtures beside this file are its output, one per version and stack; upgrade.test.ts checks
// today's program against them. Run it on a checkout of the version to record:
//
//   git worktree add /tmp/v <commit> && ln -s "$PWD/node_modules" /tmp/v/node_modules
//   npx ts-node --transpile-only tests/upgrade/record.ts /tmp/v <commit> [<variant> key=value ...]
//
// A variant records the stacks with more keys set, as a user of that version would have set them
// (e.g. `installed kubeflow-irsa:kubeflowInstalled=true`, the state after the README's second up).
//
// The stack files are the checkout's own (what a user of that version deployed), with the
// Pulumi.yaml defaults of that version applied as the CLI applies them.

import * as fs from "fs";
import * as path from "path";
import { readProjectDefaults, readStackValues, runProgram, type ConfigValues } from "../../cli/evaluate";

export interface RecordedState {
    /** The commit whose program registered these resources. */
    version: string;
    stack: string;
    /** The keys set on top of the shipped stack file, if any (see `record.ts` usage). */
    variant?: string;
    /**
     * What the stack file set, as the CLI passes it: the user's own file, kept across an upgrade
     * (the Pulumi.yaml defaults come with the version, and were applied for this record).
     */
    stackValues: ConfigValues;
    /** What the engine keeps in state per resource: identity and the delete-relevant options. */
    resources: { urn: string; type: string; retainOnDelete: boolean; protect: boolean }[];
}

export const FIXTURES = path.join(__dirname, "fixtures");

export function fixtureFile(version: string, stack: string, variant?: string): string {
    return path.join(FIXTURES, `${version}-${stack}${variant ? `-${variant}` : ""}.json`);
}

/** The stacks a checkout ships: `Pulumi.<stack>.yaml` beside its Pulumi.yaml. */
export function shippedStacks(dir: string): string[] {
    return fs
        .readdirSync(dir)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

export async function record(dir: string, version: string, stack: string, variant?: { name: string; values: ConfigValues }): Promise<RecordedState> {
    const stackValues = { ...readStackValues(dir, stack), ...variant?.values };
    const run = await runProgram({ ...readProjectDefaults(dir), ...stackValues }, stack, undefined, path.join(dir, "index.ts"));
    const resources = run.resources
        .map((r) => ({ urn: r.urn, type: r.type, retainOnDelete: r.options.retainOnDelete, protect: r.options.protect }))
        .sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
    return { version, stack, ...(variant ? { variant: variant.name } : {}), stackValues, resources };
}

async function main(): Promise<void> {
    const [dir, version, name, ...pairs] = process.argv.slice(2);
    if (!dir || !version || (name && pairs.length === 0)) {
        throw new Error("usage: record.ts <checkout directory> <version label (the commit)> [<variant> key=value ...]");
    }
    const variant = name ? { name, values: Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)])) } : undefined;
    fs.mkdirSync(FIXTURES, { recursive: true });
    for (const stack of shippedStacks(path.resolve(dir))) {
        const state = await record(path.resolve(dir), version, stack, variant);
        const file = fixtureFile(version, stack, variant?.name);
        fs.writeFileSync(file, JSON.stringify(state, null, 2) + "\n");
        console.log(`${path.relative(process.cwd(), file)}: ${state.resources.length} resources`);
    }
}

if (require.main === module) {
    main().catch((err: unknown) => {
        console.error((err as Error).stack ?? String(err));
        process.exit(1);
    });
}
