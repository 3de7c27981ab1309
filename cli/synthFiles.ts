// The output directory of `npm run synth` (cli/synth.ts): the paths it writes, and the removal of
// what an earlier run wrote there — stale files when the stack now has fewer roles or policies,
// and everything of the earlier run when this one fails. Only synth's own files are touched: an
// --out of ".", say, loses nothing else.

import * as fs from "node:fs";
import * as path from "node:path";

export const TRUST_DIR = "trust-policies";
/** `permission-policies/<role>/<policy>.json`: one directory per role, one file per inline policy. */
export const PERMISSION_DIR = "permission-policies";
export const KUBERNETES_FILE = "kubernetes.yaml";
export const AFTER_KUBEFLOW_FILE = "kubernetes-after-kubeflow.yaml";
export const POD_IDENTITY_FILE = "pod-identity-associations.yaml";
export const SUMMARY_FILE = "summary.json";
/** `target-role-trust/<account>-<role>.json`: what a role of another account, chained to by Pod Identity, must trust. */
export const TARGET_TRUST_DIR = "target-role-trust";

/** A self-managed cluster's issuer documents, as the stack puts them in its bucket. */
export const ISSUER_DIR = "oidc-issuer";
export const ISSUER_FILES = [`${ISSUER_DIR}/.well-known/openid-configuration`, `${ISSUER_DIR}/keys.json`];

const TOP_LEVEL_FILES = [KUBERNETES_FILE, AFTER_KUBEFLOW_FILE, POD_IDENTITY_FILE, SUMMARY_FILE, ...ISSUER_FILES];

const isDirectory = (dir: string) => fs.existsSync(dir) && fs.statSync(dir).isDirectory();
const jsonFiles = (dir: string) => (isDirectory(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : []);
/** The role directories under permission-policies/. */
const roleDirs = (outDir: string) => {
    const dir = path.join(outDir, PERMISSION_DIR);
    return isDirectory(dir) ? fs.readdirSync(dir).filter((d) => isDirectory(path.join(dir, d))) : [];
};

/** The files an earlier synth wrote to `outDir` (relative paths): only ours, never anything else there. */
function previousFiles(outDir: string): string[] {
    const trust = [TRUST_DIR, TARGET_TRUST_DIR].flatMap((dir) => jsonFiles(path.join(outDir, dir)).map((f) => `${dir}/${f}`));
    const permissions = roleDirs(outDir).flatMap((role) => jsonFiles(path.join(outDir, PERMISSION_DIR, role)).map((f) => `${PERMISSION_DIR}/${role}/${f}`));
    return [...trust, ...permissions, ...TOP_LEVEL_FILES.filter((f) => fs.existsSync(path.join(outDir, f)))];
}

/** Removes synth's directories in `outDir` that are left empty (deepest first), then `outDir` itself if asked. */
function removeEmptyDirectories(outDir: string, andOutDir: boolean): void {
    const dirs = [
        ...roleDirs(outDir).map((role) => path.join(outDir, PERMISSION_DIR, role)),
        path.join(outDir, PERMISSION_DIR),
        path.join(outDir, TRUST_DIR),
        path.join(outDir, TARGET_TRUST_DIR),
        path.join(outDir, ISSUER_DIR, ".well-known"),
        path.join(outDir, ISSUER_DIR),
        ...(andOutDir ? [outDir] : []),
    ];
    for (const dir of dirs) if (isDirectory(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
}

/**
 * Writes the files (paths relative to `outDir`), replacing what an earlier synth of the stack
 * wrote there: no stale role's trust policy, no stale permission policy or role directory.
 */
export function writeFiles(outDir: string, files: Map<string, string>): void {
    for (const file of previousFiles(outDir)) if (!files.has(file)) fs.rmSync(path.join(outDir, file), { force: true });
    removeEmptyDirectories(outDir, false);
    const dirs = new Set([TRUST_DIR, PERMISSION_DIR, ...[...files.keys()].map((file) => path.dirname(file))]);
    for (const dir of dirs) fs.mkdirSync(path.join(outDir, dir), { recursive: true });
    for (const [file, text] of files) fs.writeFileSync(path.join(outDir, file), text);
}

/**
 * After a failed run: removes what an earlier run wrote to `outDir`, then the directories if they
 * are left empty. Files synth does not write stay. Returns the files removed.
 */
export function removePreviousOutput(outDir: string): string[] {
    if (!isDirectory(outDir)) return [];
    const removed = previousFiles(outDir);
    for (const file of removed) fs.rmSync(path.join(outDir, file), { force: true });
    removeEmptyDirectories(outDir, true);
    return removed;
}
