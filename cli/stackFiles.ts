// A stack's configuration read from its files as the Pulumi CLI reads them — Pulumi.yaml's declared
// defaults, then Pulumi.<stack>.yaml's `config:` block — for the offline tools (cli/evaluate.ts).
// Encrypted (`secure:`) values cannot be decrypted here: they are listed, not refused, and
// cli/configOverrides.ts decides what the run does without them. Errors name the file.

import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { PROJECT } from "../components/config";
import { closeMatch } from "../components/names";

/** Config as the CLI hands it to a program: every value a string, structured values as JSON. */
export type ConfigValues = Record<string, string>;

/** What Pulumi.<stack>.yaml says, beside its values. */
export interface StackFile {
    /** The file's path. */
    file: string;
    /** The file's own plain values, as the CLI passes them (Pulumi.yaml's defaults are not among them). */
    values: ConfigValues;
    /** Keys whose value the file holds encrypted (`secure:`), which offline tools cannot read. */
    encrypted: string[];
    /** Why the file sets no value, when its `config:` block is missing or empty (and it sets none). */
    noConfig?: string;
}

/** The top-level fields of a stack file besides `config:` (pulumi/pulumi sdk/go/common/workspace, ProjectStack). */
const STACK_FILE_FIELDS = ["secretsprovider", "encryptedkey", "encryptionsalt", "environment"];

const stringify = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value));

/**
 * A Pulumi.yaml default as the CLI passes it (pulumi/pulumi sdk/go/common/workspace, createConfigValue):
 * primitives as text, lists and maps as JSON.
 */
const cliDefault = (value: unknown): string => (typeof value === "object" && value !== null ? JSON.stringify(value) : String(value));

/** Full key (`project:key`) for a key of Pulumi.yaml's config block. */
const fullKey = (key: string): string => (key.includes(":") ? key : `${PROJECT}:${key}`);

/** An encrypted value (`secure:`), or a list or map holding one at any depth (`pulumi config set --path --secret`). */
const isEncrypted = (value: unknown): boolean =>
    typeof value === "object" && value !== null && ("secure" in value && !Array.isArray(value) ? true : Object.values(value).some(isEncrypted));

/** A YAML file's content; a syntax error names the file, the line and the column. */
function readYaml(file: string): unknown {
    try {
        return parseYaml(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new Error(`${file}: not valid YAML: ${(err as Error).message}`);
    }
}

/** The defaults (and fixed values) Pulumi.yaml declares, as the CLI passes them. */
export function readProjectDefaults(projectDir: string): ConfigValues {
    const project = readYaml(path.join(projectDir, "Pulumi.yaml")) as { config?: Record<string, { default?: unknown; value?: unknown }> };
    const values: ConfigValues = {};
    for (const [key, declaration] of Object.entries(project.config ?? {})) {
        const value = declaration?.value ?? declaration?.default;
        if (value !== undefined) values[fullKey(key)] = cliDefault(value);
    }
    return values;
}

/** Why a stack file sets no config: no `config:` block (keys at the top level, say), or an empty one. */
function noConfigReason(file: string, doc: Record<string, unknown>): string | undefined {
    if (doc.config !== undefined && doc.config !== null) return undefined;
    if (doc.config === null) return `${file}: its \`config:\` block is empty (every key under it commented out?), so the stack sets no value`;
    const stray = Object.keys(doc).filter((k) => !STACK_FILE_FIELDS.includes(k));
    const misspelt = stray.find((k) => !k.includes(":") && closeMatch(k, ["config"]));
    if (misspelt) return `${file}: has no top-level \`config:\` block, so the stack sets no value; did you mean \`config:\`, not \`${misspelt}:\`?`;
    const where =
        stray.length > 0
            ? `${stray.slice(0, 3).join(", ")}${stray.length > 3 ? ", …" : ""} ${stray.length === 1 ? "is" : "are"} at the top level, where Pulumi reads no config; put a \`config:\` line first and indent the keys under it`
            : "start it with a `config:` line and indent the stack's keys under it (e.g. `  aws:region: us-west-2`), or use `pulumi config set`";
    return `${file}: has no top-level \`config:\` block, so the stack sets no value: ${where}`;
}

/** Pulumi.<stack>.yaml as the offline tools read it: its values, what it holds encrypted, and whether it has config at all. */
export function readStackFile(projectDir: string, stack: string): StackFile {
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        const stacks = fs.readdirSync(projectDir).filter((f) => /^Pulumi\..+\.yaml$/.test(f)).map((f) => f.slice(7, -5));
        throw new Error(`no stack "${stack}": ${file} does not exist; stacks here: ${stacks.join(", ") || "none"}`);
    }
    const parsed = readYaml(file) ?? {};
    if (typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(`${file}: is not a stack file (a YAML map with a \`config:\` block)`);
    const doc = parsed as Record<string, unknown>;
    const config = doc.config ?? {};
    if (typeof config !== "object" || Array.isArray(config)) {
        throw new Error(`${file}: its \`config:\` is ${Array.isArray(config) ? "a list" : `a ${typeof config}`}, not a map of keys; write each key as \`<namespace>:<key>: <value>\` under it`);
    }
    const values: ConfigValues = {};
    const encrypted: string[] = [];
    for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
        if (isEncrypted(value)) encrypted.push(fullKey(key));
        else values[fullKey(key)] = stringify(value);
    }
    const noConfig = noConfigReason(file, doc);
    return { file, values, encrypted, ...(noConfig ? { noConfig } : {}) };
}

/** The values Pulumi.<stack>.yaml sets, as the CLI passes them; an encrypted value is an error. */
export function readStackValues(projectDir: string, stack: string): ConfigValues {
    const { file, values, encrypted } = readStackFile(projectDir, stack);
    if (encrypted.length > 0) throw new Error(`${file}: ${encrypted.join(", ")} ${encrypted.length === 1 ? "is" : "are"} encrypted, which offline evaluation cannot decrypt`);
    return values;
}

/**
 * A stack's configuration as the CLI would pass it: Pulumi.yaml's declared defaults, then the
 * values of Pulumi.<stack>.yaml. Errors name the file; an encrypted value is one.
 */
export function readStackFiles(projectDir: string, stack: string): ConfigValues {
    return { ...readProjectDefaults(projectDir), ...readStackValues(projectDir, stack) };
}
