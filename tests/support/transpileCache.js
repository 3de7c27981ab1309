// A disk cache of ts-node's TypeScript-to-JavaScript transpiles, for the test run only (.mocharc.js
// requires it before ts-node). Most of the suite's CPU went to transpiling the same files again in
// every process: each mocha worker, each CLI the tests spawn (`node -r ts-node/register/transpile-only
// cli/synth.ts`, ~2 s of its ~3.5 s) and each Pulumi provider host (whose shim registers ts-node for
// providers/, ~1 s of its ~2 s). Nothing else changes: the same ts-node, the same TypeScript and
// options; a result is looked up by a hash of everything the transpile reads (TypeScript's version,
// the compiler options, the file name, the module kind and the source text), so an edited file is
// simply a miss, and a miss runs ts-node's own transpile. ts-node then builds the module and its
// source map from the result as it always does.
//
// It hooks ts-node's createTsTranspileModule (ts-node/dist/ts-transpile-module.js, what its
// transpile-only mode calls for each file); a ts-node without it runs uncached. Child processes
// inherit it through NODE_OPTIONS. KUBEFLOW_IRSA_TRANSPILE_CACHE=off turns it off (then every
// process transpiles as before). Entries live in node_modules/.cache/kubeflow-irsa-transpile/;
// ones unused for 30 days are removed when a test run starts.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..", "..");
const DIR = path.join(ROOT, "node_modules", ".cache", "kubeflow-irsa-transpile");
/** Set once the cache is on: children see it and leave the pruning to the run that started them. */
const MARK = "KUBEFLOW_IRSA_TRANSPILE_CACHE";
const MAX_AGE_MS = 30 * 24 * 3600 * 1000;
/** ts-node's own module (its package exports do not name it): the file its index requires. */
const TRANSPILE_MODULE = () => path.join(path.dirname(require.resolve("ts-node/package.json", { paths: [ROOT] })), "dist", "ts-transpile-module.js");
/** This process's lookups, for tests/support/transpileCache.test.ts. */
const stats = { hits: 0, misses: 0 };

function prune() {
    const now = Date.now();
    for (const name of fs.readdirSync(DIR)) {
        const file = path.join(DIR, name);
        try {
            if (now - fs.statSync(file).mtimeMs > MAX_AGE_MS) fs.rmSync(file, { force: true });
        } catch {
            // another process removed or renamed it
        }
    }
}

/** Wraps ts-node's transpile of one file: the cached result, or ts-node's, stored when it has no diagnostics. */
function cached(transpile, salt) {
    return function (code, options, moduleType) {
        const key = crypto.createHash("sha256").update(salt).update("\0").update(options.fileName).update("\0").update(String(moduleType)).update("\0").update(code).digest("hex");
        const file = path.join(DIR, `${key}.json`);
        try {
            const hit = JSON.parse(fs.readFileSync(file, "utf8"));
            const now = new Date();
            fs.utimesSync(file, now, now); // used: kept by prune
            stats.hits++;
            return { outputText: hit.outputText, sourceMapText: hit.sourceMapText, diagnostics: [] };
        } catch {
            // not cached yet (or unreadable): transpile
        }
        const result = transpile.apply(this, arguments);
        stats.misses++;
        if (!result.diagnostics || result.diagnostics.length === 0) {
            try {
                const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
                fs.writeFileSync(tmp, JSON.stringify({ outputText: result.outputText, sourceMapText: result.sourceMapText }));
                fs.renameSync(tmp, file); // atomic: a reader sees the whole entry or none
            } catch {
                // a cache that cannot be written only costs time
            }
        }
        return result;
    };
}

/** createTsTranspileModule with the cache: the transpile functions it makes look up and store results. */
function withCache(create) {
    fs.mkdirSync(DIR, { recursive: true });
    const wrapped = function (ts, options) {
        const transpile = create.apply(this, arguments);
        // Custom transformers are code: their output cannot be keyed by the source alone.
        if (options.transformers !== undefined) return transpile;
        return cached(transpile, JSON.stringify([ts.version, options.compilerOptions]));
    };
    wrapped.withoutCache = create;
    return wrapped;
}

/** ts-node's module that holds createTsTranspileModule, or undefined when this ts-node has none. */
function transpileModule() {
    try {
        const module = require(TRANSPILE_MODULE());
        return typeof module.createTsTranspileModule === "function" ? module : undefined;
    } catch {
        return undefined;
    }
}

function install() {
    if (process.env[MARK] === "off") return;
    const module = transpileModule();
    if (!module || module.createTsTranspileModule.withoutCache) return;
    module.createTsTranspileModule = withCache(module.createTsTranspileModule);
    if (process.env[MARK] !== "on") {
        prune();
        process.env[MARK] = "on";
        // Every process the tests start (CLIs, Pulumi's provider host, npx) loads this first.
        process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --require ${JSON.stringify(__filename)}`.trim();
    }
}

install();

module.exports = { DIR, stats, transpileModule, withCache };
