// Reading raw config values: a Reader that collects every problem (naming key, value and fix) so
// one run reports them all, and the readers of the structured keys (profiles, existingCluster,
// adminServiceAccounts). components/config.ts puts them together into the stack's contract.

import {
    DEFAULT_EDITOR,
    issuerHostPath,
    namespaceProblem,
    oidcProviderArnProblem,
    parseRoleRef,
    parseServiceAccountRef,
    roleArnProblem,
    serviceAccountProblem,
} from "../domain/subjects";
import { PROJECT, type ExistingClusterConfig, type ProfileConfig } from "./configContract";
import { AWS_REGIONS, partitionOf, reservedNamespaceProblem } from "./names";
import { DEFAULT_WEBHOOK_IMAGE, issuerBucketName, issuerUrlOf, jwkOf, normalizedPem, rsaPublicKeyProblem } from "./issuerDocuments";

/** A raw config value: what the CLI hands over (strings) or a structured value (tests, YAML). */
export type RawValue = string | number | boolean | object | null | undefined;
export type RawConfig = (key: string) => RawValue;

/**
 * Where a key's value was set: the stack's configuration (Pulumi.<stack>.yaml, `pulumi config
 * set`), or the `--config key=value` flag of the offline tools. A fix says where to make it.
 */
export type ValueOrigin = "stack" | "--config";
export type OriginOf = (fullKey: string) => ValueOrigin;

const EMAIL = /^[^@\s"'*?]+@[^@\s"'*?]+\.[^@\s"'*?]+$/;

export const key = (name: string) => (name.includes(":") ? name : `${PROJECT}:${name}`);
export const show = (value: unknown) => JSON.stringify(value);

/**
 * A value YAML read as a number or boolean where a string belongs (`name: 12345`), and the fix:
 * quote it. Undefined for anything else.
 */
export function unquotedProblem(value: unknown): string | undefined {
    if (typeof value !== "number" && typeof value !== "boolean") return undefined;
    return `${show(value)} is a ${typeof value}, not a string: YAML reads it unquoted as one; quote it ("${String(value)}")`;
}

/** The first entry of a list that YAML read as a number or boolean, with its problem. */
export function unquotedEntry(value: unknown): { index: number; problem: string } | undefined {
    if (!Array.isArray(value)) return undefined;
    const index = value.findIndex((v) => unquotedProblem(v) !== undefined);
    return index < 0 ? undefined : { index, problem: unquotedProblem(value[index])! };
}

/**
 * A key written with no value (`profiles:` with every entry commented out): the CLI passes YAML's
 * null as "null". Never taken as "none": a list that lost its entries would remove them all.
 */
const isNull = (value: unknown) => value === null || value === "null";

/** Collects problems while reading keys, so one run reports them all. */
export class Reader {
    readonly problems: string[] = [];
    constructor(
        private readonly raw: RawConfig,
        readonly origin: OriginOf = () => "stack",
    ) {}

    private structured(name: string): unknown {
        const value = this.raw(key(name));
        if (typeof value !== "string") return value;
        const text = value.trim();
        if (text.startsWith("{") || text.startsWith("[")) {
            try {
                return JSON.parse(text);
            } catch {
                const fix =
                    this.origin(key(name)) === "--config"
                        ? `it came from --config: give the list or map there as JSON, quoted for the shell (--config '${name}=[…]' or '${name}={…}')`
                        : "write it as a YAML list or map in Pulumi.<stack>.yaml";
                this.problems.push(`${key(name)}: ${show(value)} is not valid JSON; ${fix}`);
                return undefined;
            }
        }
        return value;
    }

    /** Reports a key set to nothing (YAML null) where a list belongs, with the way to write "none". */
    private nullList(name: string, value: unknown): boolean {
        if (!isNull(value)) return false;
        this.problem(name, `has no value (YAML null: a key with nothing under it, e.g. every entry commented out); write \`${key(name)}: []\` for an empty list`);
        return true;
    }

    /** The raw value, unread (for a message that quotes it). */
    peek(name: string): RawValue {
        return this.raw(key(name));
    }

    problem(name: string, text: string): void {
        this.problems.push(`${key(name)}: ${text}`);
    }

    string(name: string, fallback?: string): string | undefined {
        const value = this.raw(key(name));
        if (value === undefined || value === "") return fallback;
        if (typeof value !== "string") {
            this.problem(name, unquotedProblem(value) ?? `${show(value)} is not a string`);
            return fallback;
        }
        return value;
    }

    required(name: string, fix: string): string {
        const value = this.string(name);
        if (value === undefined) {
            this.problem(name, `is required; ${fix}`);
            return "";
        }
        return value;
    }

    boolean(name: string, fallback: boolean): boolean;
    boolean(name: string, fallback: undefined): boolean | undefined;
    boolean(name: string, fallback: boolean | undefined): boolean | undefined {
        const value = this.raw(key(name));
        if (value === undefined || value === "") return fallback;
        if (value === true || value === "true") return true;
        if (value === false || value === "false") return false;
        this.problem(name, `${show(value)} is not a boolean; use true or false`);
        return fallback;
    }

    /** true, false or a list of strings; undefined when not set (or after a problem). */
    booleanOrList(name: string): boolean | string[] | undefined {
        const value = this.structured(name);
        if (value === undefined || value === "" || this.nullList(name, value)) return undefined;
        if (value === true || value === "true") return true;
        if (value === false || value === "false") return false;
        if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value as string[];
        this.problem(name, `${show(value)} is neither true, false nor a list of profile names`);
        return undefined;
    }

    integer(name: string, fallback: number, min: number, max: number, fix: string): number {
        const value = this.raw(key(name));
        if (value === undefined || value === "") return fallback;
        const text = typeof value === "string" ? value.trim() : undefined;
        const n = typeof value === "number" ? value : text !== undefined && /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text) ? Number(text) : NaN;
        const range = `use a whole number from ${min} to ${max}; ${fix}`;
        if (Number.isNaN(n)) {
            this.problem(name, `${show(value)} is not a number: ${range}`);
        } else if (!Number.isInteger(n)) {
            this.problem(name, `${show(value)} is not a whole number: ${range}`);
        } else if (n < min || n > max) {
            this.problem(name, `${show(value)} is out of range: ${range}`);
        } else {
            return n;
        }
        return fallback;
    }

    /** A whole number as integer() reads it, or the one word `word` (as written, e.g. `userRoleShards: auto`). */
    integerOr<W extends string>(name: string, word: W, fallback: number, min: number, max: number, fix: string): number | W {
        const value = this.raw(key(name));
        if (typeof value === "string" && value.trim() === word) return word;
        return this.integer(name, fallback, min, max, fix);
    }

    oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
        const value = this.string(name, fallback) as T;
        if (!allowed.includes(value)) {
            this.problem(name, `${show(value)} is not supported; use one of ${allowed.map(show).join(", ")}`);
            return fallback;
        }
        return value;
    }

    list(name: string, fallback: string[]): string[] {
        const value = this.structured(name);
        if (value === undefined || value === "" || this.nullList(name, value)) return fallback;
        if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
            const unquoted = unquotedEntry(value);
            if (unquoted) this.problem(`${name}[${unquoted.index}]`, unquoted.problem);
            else this.problem(name, `${show(value)} is not a list of strings`);
            return fallback;
        }
        return value as string[];
    }

    objects(name: string): Record<string, unknown>[] | undefined {
        const value = this.structured(name);
        if (value === undefined || value === "" || this.nullList(name, value)) return undefined;
        if (!Array.isArray(value) || value.some((v) => typeof v !== "object" || v === null || Array.isArray(v))) {
            this.problem(name, `${show(value)} is not a list of maps`);
            return undefined;
        }
        return value as Record<string, unknown>[];
    }

    /** `shape`: how the map is written, for the message when the value is something else. */
    object(name: string, shape: string): Record<string, unknown> | undefined {
        const value = this.structured(name);
        // Pulumi.yaml's default is "" ("not set"); an empty map means the same, in JSON or as older
        // CLIs rendered it (Go's "map[]").
        if (value === undefined || value === "" || value === "map[]") return undefined;
        if (isNull(value)) {
            this.problem(name, `has no value (YAML null: a key with nothing under it); give the map, ${shape}, or remove the key`);
            return undefined;
        }
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
            this.problem(name, `${show(value)} is ${Array.isArray(value) ? "a list" : `a ${typeof value}`}, not a map; write it as ${shape}`);
            return undefined;
        }
        return Object.keys(value).length > 0 ? (value as Record<string, unknown>) : undefined;
    }
}

export function readProfiles(reader: Reader, region = ""): ProfileConfig[] {
    const entries = reader.objects("profiles") ?? [];
    const seen = new Map<string, number>();
    const profiles: ProfileConfig[] = [];
    entries.forEach((entry, index) => {
        const at = `profiles[${index}]`;
        const unknown = Object.keys(entry).filter((k) => !PROFILE_FIELDS.includes(k));
        if (unknown.length > 0) reader.problem(at, `unknown field ${unknown.map(show).join(", ")}; a profile has name, owner and optionally awsIamRole and serviceAccounts (spelled so)`);
        const { name, owner, awsIamRole } = entry;
        if (typeof name !== "string" || name === "") {
            reader.problem(`${at}.name`, unquotedProblem(name) ?? `${name === undefined ? "is missing" : `${show(name)} is not a string`}; set the profile's namespace name`);
        } else {
            const problem = namespaceProblem(name) ?? reservedNamespaceProblem(name);
            if (problem) reader.problem(`${at}.name`, problem);
            const first = seen.get(name);
            if (first !== undefined) {
                reader.problem(`${at}.name`, `${show(name)} is already the name of profiles[${first}]; each profile owns its own namespace, so remove or rename one`);
            } else {
                seen.set(name, index);
            }
        }
        if (owner === undefined || owner === null || owner === "") {
            reader.problem(`${at}.owner`, `is required: set the owner's login e-mail, e.g. "alice@example.com" (Kubeflow makes that user the profile's owner)`);
        } else if (typeof owner !== "string" || !EMAIL.test(owner)) {
            reader.problem(`${at}.owner`, `${show(owner)} is not an e-mail address; set the owner's login e-mail, e.g. "alice@example.com"`);
        }
        if (awsIamRole !== undefined) {
            const problem = typeof awsIamRole === "string" ? (roleArnProblem(awsIamRole) ?? partitionProblem(awsIamRole, region)) : (unquotedProblem(awsIamRole) ?? `${show(awsIamRole)} is not a string`);
            if (problem) reader.problem(`${at}.awsIamRole`, `${problem}; or leave awsIamRole out to use the stack's kf-user role`);
        }
        const serviceAccounts = readProfileServiceAccounts(reader, at, entry.serviceAccounts);
        profiles.push({ name: String(name), owner: String(owner), ...(typeof awsIamRole === "string" ? { awsIamRole } : {}), serviceAccounts });
    });
    return profiles;
}

const PROFILE_FIELDS = ["name", "owner", "awsIamRole", "serviceAccounts"];

/** Why a role ARN cannot serve a cluster in `region`: IAM roles of another partition (aws-cn, aws-us-gov, …) are out of its reach. */
function partitionProblem(arn: string, region: string): string | undefined {
    const arnPartition = parseRoleRef(arn)?.partition;
    if (arnPartition === undefined || !region || !AWS_REGIONS.includes(region) || arnPartition === partitionOf(region)) return undefined;
    return `"${arn}" is in partition "${arnPartition}", but the cluster's region ${region} is in "${partitionOf(region)}": a pod there cannot assume it; use a role ARN that starts with "arn:${partitionOf(region)}:iam::"`;
}

/** A profile's `serviceAccounts`: names (RFC 1123) of its namespace's service accounts, no repeats. */
function readProfileServiceAccounts(reader: Reader, at: string, value: unknown): string[] {
    if (value === undefined) return [DEFAULT_EDITOR];
    const fix = `list service-account names of the profile's namespace, e.g. ["${DEFAULT_EDITOR}", "default"]`;
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
        const unquoted = unquotedEntry(value);
        if (unquoted) reader.problem(`${at}.serviceAccounts[${unquoted.index}]`, unquoted.problem);
        else reader.problem(`${at}.serviceAccounts`, `${show(value)} is not a list of service-account names; ${fix}`);
        return [DEFAULT_EDITOR];
    }
    if (value.length === 0) {
        reader.problem(`${at}.serviceAccounts`, `is empty, so no pod of the profile would get its role; ${fix}, or leave the field out for ["${DEFAULT_EDITOR}"]`);
        return [DEFAULT_EDITOR];
    }
    const names = value as string[];
    names.forEach((sa, index) => {
        const problem = serviceAccountProblem(sa);
        if (problem) reader.problem(`${at}.serviceAccounts[${index}]`, `${problem}; give the name only, without the namespace (the profile's name is the namespace)`);
    });
    duplicates(reader, `${at}.serviceAccounts`, names);
    return names;
}

/** How existingCluster is written, for a value of another shape. */
function existingClusterShape(reader: Reader): string {
    const raw = reader.peek("existingCluster");
    const url = typeof raw === "string" && /^https:\/\//.test(raw.trim()) ? raw.trim() : "https://oidc.eks.<region>.amazonaws.com/id/<ID>";
    const written =
        reader.origin(key("existingCluster")) === "--config"
            ? `--config 'existingCluster={"oidcIssuerUrl":"${url}"}'`
            : `\`${key("existingCluster")}:\` and under it, indented, \`oidcIssuerUrl: ${url}\``;
    return `a map with the issuer URL under oidcIssuerUrl: ${written} (optionally with oidcProviderArn; a self-managed cluster has selfManaged: {serviceAccountKeys: [...]} instead)`;
}

export function readExistingCluster(reader: Reader, region: string, clusterName: string): ExistingClusterConfig | undefined {
    const value = reader.object("existingCluster", existingClusterShape(reader));
    if (!value) return undefined;
    const unknown = Object.keys(value).filter((k) => !["oidcIssuerUrl", "oidcProviderArn", "selfManaged"].includes(k));
    if (unknown.length > 0) {
        reader.problem("existingCluster", `unknown field ${unknown.map(show).join(", ")}; the map has oidcIssuerUrl, and optionally oidcProviderArn or selfManaged (spelled so)`);
        return undefined;
    }
    if (value.selfManaged !== undefined) return readSelfManaged(reader, value, region, clusterName);
    const { oidcIssuerUrl, oidcProviderArn } = value;
    if (typeof oidcIssuerUrl !== "string" || !/^https:\/\/[a-z0-9.-]+(:\d+)?(\/[\w.~-]+)*\/?$/.test(oidcIssuerUrl)) {
        reader.problem("existingCluster.oidcIssuerUrl", `${show(oidcIssuerUrl)} is not an https issuer URL; copy it from \`aws eks describe-cluster --query cluster.identity.oidc.issuer\``);
        return undefined;
    }
    if (oidcProviderArn !== undefined) {
        const problem = typeof oidcProviderArn === "string" ? oidcProviderArnProblem(oidcProviderArn) : `${show(oidcProviderArn)} is not a string`;
        if (problem) {
            reader.problem("existingCluster.oidcProviderArn", `${problem}; or leave it out and this stack creates the provider`);
            return undefined;
        }
        if (!(oidcProviderArn as string).endsWith(`:oidc-provider/${issuerHostPath(oidcIssuerUrl)}`)) {
            reader.problem("existingCluster.oidcProviderArn", `${show(oidcProviderArn)} is not the provider of issuer ${show(oidcIssuerUrl)}; the ARN must end with "oidc-provider/${issuerHostPath(oidcIssuerUrl)}"`);
        }
    }
    return { oidcIssuerUrl, ...(typeof oidcProviderArn === "string" ? { oidcProviderArn } : {}) };
}

/** `existingCluster.selfManaged`: the stack hosts the issuer, so its URL is derived (and, if given, must match). */
function readSelfManaged(reader: Reader, value: Record<string, unknown>, region: string, clusterName: string): ExistingClusterConfig | undefined {
    const at = "existingCluster.selfManaged";
    const self = value.selfManaged;
    if (typeof self !== "object" || self === null || Array.isArray(self)) {
        reader.problem(at, `${show(self)} is not a map; give {serviceAccountKeys: [<PEM public key>, …], webhookImage?: <image>}`);
        return undefined;
    }
    const fields = self as Record<string, unknown>;
    const unknown = Object.keys(fields).filter((k) => !["serviceAccountKeys", "webhookImage"].includes(k));
    if (unknown.length > 0) reader.problem(at, `unknown field ${unknown.map(show).join(", ")}; the map has serviceAccountKeys and optionally webhookImage`);
    const keys = fields.serviceAccountKeys;
    if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== "string")) {
        reader.problem(
            `${at}.serviceAccountKeys`,
            `${Array.isArray(keys) && keys.length === 0 ? "is empty" : `${show(keys)} is not a list of PEM strings`}; list the PEM public key of each service-account signing key the API server accepts (--service-account-key-file)`,
        );
        return undefined;
    }
    const kids = new Map<string, number>();
    (keys as string[]).forEach((pem, index) => {
        const problem = rsaPublicKeyProblem(pem);
        if (problem) return reader.problem(`${at}.serviceAccountKeys[${index}]`, problem);
        const { kid } = jwkOf(pem);
        const first = kids.get(kid);
        if (first !== undefined) reader.problem(`${at}.serviceAccountKeys[${index}]`, `is the same key as serviceAccountKeys[${first}] (kid ${kid}); remove one`);
        else kids.set(kid, index);
    });
    const image = fields.webhookImage ?? DEFAULT_WEBHOOK_IMAGE;
    if (typeof image !== "string" || !/^[\w.-]+(:\d+)?(\/[\w.-]+)+(:[\w.-]+|(:[\w.-]+)?@sha256:[0-9a-f]{64})$/.test(image)) {
        reader.problem(`${at}.webhookImage`, `${show(image)} is not a pinned image reference (registry/repository:tag or @sha256:digest); leave it out for ${DEFAULT_WEBHOOK_IMAGE}`);
    }
    if (value.oidcProviderArn !== undefined) {
        reader.problem("existingCluster.oidcProviderArn", "cannot be given with selfManaged: the stack hosts the issuer and creates its IAM OIDC provider; remove oidcProviderArn");
    }
    const bucket = issuerBucketName(region, clusterName);
    const derived = issuerUrlOf(bucket, region);
    if (value.oidcIssuerUrl !== undefined && String(value.oidcIssuerUrl).replace(/\/$/, "") !== derived) {
        reader.problem("existingCluster.oidcIssuerUrl", `${show(value.oidcIssuerUrl)} is not the issuer this stack hosts for a self-managed cluster, ${show(derived)}; leave oidcIssuerUrl out (it is derived) or set it to that`);
    }
    return { oidcIssuerUrl: derived, selfManaged: { serviceAccountKeys: (keys as string[]).map(normalizedPem), webhookImage: String(image), issuerBucket: bucket } };
}

/** Reports every entry of a list that repeats an earlier one. */
export function duplicates(reader: Reader, name: string, values: string[], normalize: (v: string) => string = (v) => v): void {
    const first = new Map<string, number>();
    values.forEach((value, index) => {
        const seen = first.get(normalize(value));
        if (seen === undefined) first.set(normalize(value), index);
        else reader.problem(`${name}[${index}]`, `${show(value)} repeats ${name}[${seen}]; remove one`);
    });
}

/** A list of `namespace:name` references (adminServiceAccounts; logShipperServiceAccounts, which may not be empty). */
export function readAdminServiceAccounts(reader: Reader, fallback: string[], name = "adminServiceAccounts", example = "kubeflow:kf-admin"): string[] {
    const refs = reader.list(name, fallback);
    if (name !== "adminServiceAccounts" && refs.length === 0) reader.problem(name, `is empty; list at least one service account, e.g. ["${example}"]`);
    duplicates(reader, name, refs);
    refs.forEach((ref, index) => {
        const parsed = parseServiceAccountRef(ref);
        const problem = !parsed
            ? `${show(ref)} is not "namespace:name"`
            : namespaceProblem(parsed.namespace) ?? serviceAccountProblem(parsed.serviceAccount);
        if (problem) reader.problem(`${name}[${index}]`, `${problem}; write each as "namespace:service-account", e.g. "${example}"`);
    });
    return refs;
}
