// `--config key=value`: how the offline tools (synth and the doctor) set a config value for one run,
// as `pulumi config set` would, without touching the stack file — and how they work on a stack that
// holds encrypted (`secure:`) values, which nothing here can decrypt. An override replaces such a
// value before anything reads it; a value no offline result depends on may stay unknown, and the
// tools say so; a value what `up` writes depends on must be given.

import * as path from "path";
import { CONNECTION_KEYS, valueShapesResources } from "../components/configKeys";
import { ConfigError, PROJECT } from "../components/config";
import type { ConfigValues, StackFile } from "./stackFiles";

/** A config value the run goes without: encrypted in the stack file, and not given with --config. */
export interface UnknownValue {
    key: string;
    /** What the tools print about it. */
    note: string;
}

/**
 * What an unknown value is passed as. Only keys no result depends on get it; cli/evaluate.ts checks
 * that no resource but a provider received it.
 */
export const UNKNOWN_VALUE = "[encrypted in the stack file: not known offline]";

/** `project:key` for a key given without a namespace. */
const fullKey = (key: string) => (key.includes(":") ? key : `${PROJECT}:${key}`);

/** The `--config` flags as config values; throws an Error naming the malformed pair. */
export function parseConfigOverrides(pairs: readonly string[]): ConfigValues {
    const overrides: ConfigValues = {};
    for (const pair of pairs) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new Error(`--config "${pair}" is not key=value (e.g. --config userRoleShards=4)`);
        overrides[fullKey(pair.slice(0, eq))] = pair.slice(eq + 1);
    }
    return overrides;
}

/** Why a value may stay unknown: nothing the tools compute reads it. */
function unknownNote(key: string, file: string): string {
    const bare = key.startsWith(`${PROJECT}:`) ? key.slice(PROJECT.length + 1) : undefined;
    const why =
        bare !== undefined && CONNECTION_KEYS.includes(bare)
            ? "it only connects the Kubernetes provider to the cluster"
            : `the program does not read it: it is a setting of the ${key.split(":")[0]} package`;
    return `${key} is encrypted in ${path.basename(file)}: not known offline, and no result here depends on it (${why})`;
}

/**
 * The run's config: the stack file's values, then the overrides. An encrypted value the overrides
 * do not replace stays unknown if nothing `up` writes depends on it; otherwise it is a ConfigError
 * naming the key and the --config that supplies it.
 */
export function applyOverrides(defaults: ConfigValues, stackFile: StackFile, overrides: ConfigValues): { values: ConfigValues; unknown: UnknownValue[] } {
    const values: ConfigValues = { ...defaults, ...stackFile.values };
    const unknown: UnknownValue[] = [];
    const needed: string[] = [];
    for (const key of stackFile.encrypted.filter((k) => overrides[k] === "")) {
        // `--config profiles="$(pulumi config get …)"` whose command failed (no login, no passphrase) gives "".
        needed.push(`${key}: --config gave it an empty value, and ${stackFile.file} holds it encrypted; did \`pulumi config get ${key}\` fail? Give the value itself`);
    }
    for (const key of stackFile.encrypted.filter((k) => !(k in overrides))) {
        if (valueShapesResources(key)) {
            const flag = key.startsWith(`${PROJECT}:`) ? key.slice(PROJECT.length + 1) : key;
            needed.push(
                `${key}: is encrypted in ${stackFile.file}, which the offline tools cannot decrypt, and what \`up\` writes depends on it; ` +
                    `give its value with --config ${flag}=<value> (e.g. --config ${flag}="$(pulumi config get ${key})")`,
            );
        } else {
            values[key] = UNKNOWN_VALUE;
            unknown.push({ key, note: unknownNote(key, stackFile.file) });
        }
    }
    if (needed.length > 0) throw new ConfigError(needed);
    return { values: { ...values, ...overrides }, unknown };
}

/** The --config line of a CLI's --help, its description starting at `column`. */
export function configFlagHelp(column: number): string {
    const pad = " ".repeat(column);
    return [
        `  ${"--config key=value".padEnd(column - 2)}set a config value for this run, as \`pulumi config set\` would`,
        `${pad}(repeatable; keys without a namespace are ${PROJECT}:<key>; lists and maps`,
        `${pad}as JSON). Encrypted (secure:) values are not known offline: give one this way`,
        `${pad}when a result depends on it (the error says so); others, such as kubeconfig,`,
        `${pad}may stay unknown (a note says so)`,
    ].join("\n");
}
