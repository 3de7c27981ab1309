// The test run's transpile cache (./transpileCache.js): what a process gets from it is exactly what
// ts-node compiles without it, for every TypeScript file of the project, and an edited source is
// transpiled anew. (The suite's other tests run the code it hands out; a stale or altered entry
// would put code under test that is not the checkout's.)
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type { Service } from "ts-node";

type CreateTranspile = ((...args: never[]) => unknown) & { withoutCache?: CreateTranspile };
/* eslint-disable @typescript-eslint/no-require-imports */
const cache = require("./transpileCache") as {
    DIR: string;
    stats: { hits: number; misses: number };
    transpileModule: () => { createTsTranspileModule: CreateTranspile } | undefined;
    withCache: (create: CreateTranspile) => CreateTranspile;
};
const tsNode = require("ts-node") as typeof import("ts-node");
/* eslint-enable @typescript-eslint/no-require-imports */

const ROOT = path.resolve(__dirname, "..", "..");
const SKIP = new Set(["node_modules", ".git", "bin", "synth.out", "scratch"]);

/** The project's TypeScript files (what the suite loads), relative to ROOT. */
function sources(dir = ""): string[] {
    return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
        if (SKIP.has(e.name)) return [];
        const rel = path.join(dir, e.name);
        return e.isDirectory() ? sources(rel) : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [rel] : [];
    });
}

/** ts-node's transpile-only service (what ts-node/register/transpile-only makes) with `create` as its createTsTranspileModule. */
function service(create: CreateTranspile): Service {
    const module = cache.transpileModule()!;
    const current = module.createTsTranspileModule;
    module.createTsTranspileModule = create;
    try {
        return tsNode.create({ transpileOnly: true, project: path.join(ROOT, "tsconfig.json") });
    } finally {
        module.createTsTranspileModule = current;
    }
}

describe("the test run's transpile cache (tests/support/transpileCache.js)", function () {
    this.timeout(120_000);
    const files = sources();

    it("GIVEN every TypeScript file of the project THEN a cached transpile is what ts-node compiles without the cache, byte for byte", () => {
        const module = cache.transpileModule();
        assert.ok(module, "ts-node has createTsTranspileModule (ts-node/dist/ts-transpile-module.js), which the cache hooks");
        // ts-node's own, whether or not this process runs with the cache (KUBEFLOW_IRSA_TRANSPILE_CACHE=off).
        const own = module.createTsTranspileModule.withoutCache ?? module.createTsTranspileModule;
        assert.ok(files.length > 100 && files.includes(path.join("providers", "reconcile.ts")), `${files.length} files`);
        const plain = service(own);
        const first = service(cache.withCache(own));
        const second = service(cache.withCache(own));
        for (const file of files) {
            const name = path.join(ROOT, file);
            const code = fs.readFileSync(name, "utf8");
            const expected = plain.compile(code, name);
            assert.equal(first.compile(code, name), expected, `${file}: first (stored or found)`);
            const hits = cache.stats.hits;
            assert.equal(second.compile(code, name), expected, `${file}: from the cache`);
            assert.equal(cache.stats.hits, hits + 1, `${file}: the second compile is a hit`);
        }
    });

    it("GIVEN a source edited since it was cached THEN it is transpiled anew: the module runs the edit", () => {
        const module = cache.transpileModule()!;
        const compiler = service(cache.withCache(module.createTsTranspileModule.withoutCache ?? module.createTsTranspileModule));
        const name = path.join(ROOT, "providers", "reconcile.ts");
        const code = fs.readFileSync(name, "utf8");
        const before = compiler.compile(code, name);
        const edited = compiler.compile(code.replace("const MAX_WRITE_ROUNDS = 4;", "const MAX_WRITE_ROUNDS = 5;"), name);
        assert.notEqual(edited, before);
        assert.match(edited, /const MAX_WRITE_ROUNDS = 5;/);
        // That edit may be cached by an earlier run of this test; a source never seen is a miss.
        const misses = cache.stats.misses;
        compiler.compile(`${code}\nexport const transpileCacheProbe = ${JSON.stringify(`${process.pid}-${Date.now()}-${Math.random()}`)};\n`, name);
        assert.equal(cache.stats.misses, misses + 1);
        assert.ok(fs.readdirSync(cache.DIR).length > 0, "entries are kept on disk for the next process");
    });
});
