// What every TrustSubjects stores as its provider (`__provider`): a shim of a few KB instead of the
// provider's code. Pulumi serializes a dynamic provider with everything it captures, and the
// project's own modules by value: the whole provider was 87 KB, stored twice per resource (inputs
// and outputs), and sent back in the gRPC trailer of every partial failure, where Node's HTTP/2
// drops a header block much past 64 KiB — the engine then never heard of the state IAM held.
// And `read` and `delete` run the text in state: fixes never reached resources whose diff did not
// rewrite it.
//
// The shim captures no path and no code of ours: in the host process it finds the kubeflow-irsa
// project Pulumi runs in (the host's working directory, which the engine sets to the project, or
// KUBEFLOW_IRSA_HOME), registers ts-node there when the provider is TypeScript, and requires
// ./trustSubjectsProvider. So state written on one machine works from any other checkout, and
// every resource runs the installed code. It refuses code older than the contract it was written
// with, and says what to run when the project or its packages are missing.

import type * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";

type Provider = pulumi.dynamic.ResourceProvider;

/** The package name the shim looks for, in package.json at or above the working directory. */
const PACKAGE_NAME = "kubeflow-irsa";
/** Relative to the project: the module that exports `trustSubjectsProvider` and `PROVIDER_CONTRACT`. */
const ENTRY = ["providers", "trustSubjectsProvider"];

/** The installed provider, loaded once per host process. Errors say what to run. */
function loadInstalled(contract: number): Provider {
    const start = path.resolve(process.env.KUBEFLOW_IRSA_HOME || process.cwd());
    const what = "TrustSubjects (kubeflow-irsa): the provider runs the code of the kubeflow-irsa project that Pulumi runs in";
    let root: string | undefined;
    for (let dir = start; ; dir = path.dirname(dir)) {
        const manifest = path.join(dir, "package.json");
        if (fs.existsSync(manifest)) {
            try {
                if ((JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: unknown }).name === PACKAGE_NAME) root = dir;
            } catch {
                // not ours: keep looking upward
            }
        }
        if (root || path.dirname(dir) === dir) break;
    }
    if (!root) {
        throw new Error(`${what}, and there is none at or above ${start}: run pulumi in the kubeflow-irsa directory (or set KUBEFLOW_IRSA_HOME to it), after \`npm ci\``);
    }
    const entry = path.join(root, ...ENTRY);
    const compiled = fs.existsSync(`${entry}.js`);
    if (!compiled && !fs.existsSync(`${entry}.ts`)) {
        throw new Error(`${what}; ${root} has no ${ENTRY.join("/")}.ts: it is not a complete kubeflow-irsa checkout (git status there), or set KUBEFLOW_IRSA_HOME to one`);
    }
    // Pulumi runs the program under ts-node, but the provider host is a plain Node.js process.
    if (!compiled && !(process as unknown as Record<symbol, unknown>)[Symbol.for("ts-node.register.instance")]) {
        let tsNode: { register(options: object): unknown };
        try {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            tsNode = require(require.resolve("ts-node", { paths: [root] }));
        } catch {
            throw new Error(`${what}, and ${root} has no ts-node installed: run \`npm ci\` in ${root}`);
        }
        tsNode.register({ transpileOnly: true, project: path.join(root, "tsconfig.json") });
    }
    let installed: { trustSubjectsProvider?: () => Provider; PROVIDER_CONTRACT?: unknown };
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        installed = require(entry);
    } catch (err) {
        throw new Error(`${what}, and loading it from ${root} failed (${(err as Error).message ?? String(err)}): run \`npm ci\` in ${root}`);
    }
    const installedContract = typeof installed.PROVIDER_CONTRACT === "number" ? installed.PROVIDER_CONTRACT : 0;
    if (installedContract < contract || typeof installed.trustSubjectsProvider !== "function") {
        throw new Error(
            `${what}: this resource's state was written by a newer kubeflow-irsa (provider contract ${contract}) than the checkout at ${root} (contract ${installedContract}); ` +
                "update that checkout to the version the stack was last deployed with or later (git pull), run `npm ci`, and try again",
        );
    }
    return installed.trustSubjectsProvider();
}

/** Where a shim keeps the provider it loaded: on itself (the host loads each text once, and calls methods on that object). */
const LOADED = "__installedProvider";

function installedFor(shim: object, contract: number): Provider {
    const holder = shim as Record<string, Provider | undefined>;
    if (!holder[LOADED]) Object.defineProperty(shim, LOADED, { value: loadInstalled(contract), enumerable: false });
    return holder[LOADED]!;
}

/**
 * The provider object the SDK serializes into each resource: each call hands over to the
 * installed provider, loaded on first use. `contract`: the PROVIDER_CONTRACT of the code writing
 * the state. (Closure serialization copies captured variables into every function's scope, so
 * the loaded provider lives on the object the host holds, not in a captured variable.)
 */
export function providerShim(contract: number): Provider {
    return {
        async configure(req) {
            return installedFor(this, contract).configure?.(req);
        },
        async check(olds, news) {
            return installedFor(this, contract).check!(olds, news);
        },
        async diff(id, olds, news) {
            return installedFor(this, contract).diff!(id, olds, news);
        },
        async create(inputs) {
            return installedFor(this, contract).create(inputs);
        },
        async read(id, props) {
            return installedFor(this, contract).read!(id, props);
        },
        async update(id, olds, news) {
            return installedFor(this, contract).update!(id, olds, news);
        },
        async delete(id, props) {
            return installedFor(this, contract).delete!(id, props);
        },
    };
}
