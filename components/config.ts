// The stack's configuration: the public contract of `kubeflow-irsa:*` keys, their defaults, and
// validation that fails before anything is registered, naming the key, the value and the fix.
//
// Pulumi.yaml declares the same keys and defaults for the CLI; under the mock runtime (tests,
// `npm run synth`) the CLI is absent, so the defaults below apply. A test keeps the two in step.

import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_MAX_POLICY_CHARS, MAX_POLICY_CHARS_LIMIT } from "../providers/trustPolicy";
import {
    DEFAULT_EDITOR,
    issuerHostPath,
    namespaceProblem,
    oidcProviderArnProblem,
    parseServiceAccountRef,
    roleArnProblem,
    serviceAccountProblem,
} from "../providers/subjects";
import {
    ADMIN_ROLE_MODES,
    ALB_CONTROLLERS,
    controlPlaneComponents,
    defaultAdminServiceAccounts,
    type AdminRoleMode,
    type AlbController,
} from "./controllers";

export const PROJECT = "kubeflow-irsa";

export const PROFILE_API_VERSIONS = ["kubeflow.org/v1", "kubeflow.org/v1beta1"] as const;
export type ProfileApiVersion = (typeof PROFILE_API_VERSIONS)[number];
export const IDENTITY_MODES = ["irsa", "podIdentity"] as const;
export type IdentityMode = (typeof IDENTITY_MODES)[number];

/** One Kubeflow profile: a namespace, its owner, and optionally the role its pods get. */
export interface ProfileConfig {
    /** The profile's name, which is also its namespace (RFC 1123 label). */
    name: string;
    /** The owner's e-mail, as the Kubeflow dashboard knows the user. */
    owner: string;
    /** A role ARN for this profile's service accounts. @default the stack's kf-user role (or its shard) */
    awsIamRole?: string;
    /** Service accounts of the namespace that get the role, each trusted (IRSA) or associated (podIdentity). @default ["default-editor"] */
    serviceAccounts: string[];
}

/** Adopt a cluster this stack does not create. */
export interface ExistingClusterConfig {
    /** `https://oidc.eks.<region>.amazonaws.com/id/<ID>` or a self-managed issuer URL. */
    oidcIssuerUrl: string;
    /** The IAM OIDC provider for that issuer. @default created by this stack */
    oidcProviderArn?: string;
}

export interface NodeGroupConfig {
    /** @default "m5.xlarge" */
    instanceType: string;
    /** @default 2 */
    desiredCapacity: number;
    /** @default 1 */
    minSize: number;
    /** @default 4 */
    maxSize: number;
}

export interface StackConfig {
    region: string;
    clusterName: string;
    existingCluster?: ExistingClusterConfig;
    /** Kubeconfig for an existing cluster; the ambient kubeconfig when absent. */
    kubeconfig?: pulumi.Output<string>;
    enablePodIamPolicy: boolean;
    enableFsx: boolean;
    /** Which load balancer controller runs (its policy and service account). @default "v2" */
    albController: AlbController;
    /** One kf-admin for the whole control plane, or one role per component. @default "shared" */
    adminRoleMode: AdminRoleMode;
    /** `namespace:name` references trusted by kf-admin. @default see defaultAdminServiceAccounts */
    adminServiceAccounts: string[];
    userPolicyArns: string[];
    profiles: ProfileConfig[];
    trustPolicyMaxChars: number;
    profileApiVersion: ProfileApiVersion;
    userRoleShards: number;
    identityMode: IdentityMode;
    nodeGroup: NodeGroupConfig;
    /** Kubeflow (and its Profile CRD) runs on the cluster: register the Profile objects. */
    kubeflowInstalled: boolean;
    /** Delete a Profile (and with it, Kubeflow's namespace) when it leaves the config; else keep it. */
    deleteRemovedProfiles: boolean;
}

/**
 * Defaults of every optional key; Pulumi.yaml declares the same (checked by a test).
 * adminServiceAccounts has none here: it depends on albController, enableFsx and adminRoleMode
 * (defaultAdminServiceAccounts), so Pulumi.yaml declares it "" ("not set").
 */
export const DEFAULTS = {
    enablePodIamPolicy: true,
    enableFsx: false,
    albController: "v2" as AlbController,
    adminRoleMode: "shared" as AdminRoleMode,
    userPolicyArns: [] as string[],
    profiles: [] as ProfileConfig[],
    trustPolicyMaxChars: DEFAULT_MAX_POLICY_CHARS,
    profileApiVersion: "kubeflow.org/v1" as ProfileApiVersion,
    userRoleShards: 1,
    identityMode: "irsa" as IdentityMode,
    instanceType: "m5.xlarge",
    desiredCapacity: 2,
    minSize: 1,
    maxSize: 4,
    kubeflowInstalled: false,
    deleteRemovedProfiles: false,
};

/** Every `kubeflow-irsa:*` key (Pulumi.yaml declares the same, checked by a test); any other is a typo. */
export const CONFIG_KEYS = [
    "clusterName",
    "existingCluster",
    "kubeconfig",
    "enablePodIamPolicy",
    "enableFsx",
    "albController",
    "adminRoleMode",
    "adminServiceAccounts",
    "userPolicyArns",
    "profiles",
    "trustPolicyMaxChars",
    "profileApiVersion",
    "userRoleShards",
    "identityMode",
    "instanceType",
    "desiredCapacity",
    "minSize",
    "maxSize",
    "kubeflowInstalled",
    "deleteRemovedProfiles",
] as const;

/** Namespaces this close to the project's (edits) are typos of it, not another package's. */
const NAMESPACE_TYPO_EDITS = 2;

/** Levenshtein distance, case-insensitive: how many single-character edits turn a into b. */
function editDistance(a: string, b: string): number {
    const [x, y] = [a.toLowerCase(), b.toLowerCase()];
    let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
    for (let i = 1; i <= x.length; i++) {
        const current = [i];
        for (let j = 1; j <= y.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[y.length];
}

function closestKey(name: string): string {
    return CONFIG_KEYS.reduce((best, k) => (editDistance(name, k) < editDistance(name, best) ? k : best));
}

/**
 * Config keys that look meant for this project but are not its keys: a misspelt key of the
 * `kubeflow-irsa` namespace, or any key of a namespace one or two edits away from it. Silently
 * ignoring `kubeflow-irsa:profile` would mean zero profiles, and an `up` that removes them all.
 * Keys of other namespaces (aws, kubernetes, pulumi, …) are never refused.
 */
export function unknownKeyProblems(keys: readonly string[]): string[] {
    const problems: string[] = [];
    for (const full of keys) {
        const at = full.indexOf(":");
        const [namespace, name] = at < 0 ? ["", full] : [full.slice(0, at), full.slice(at + 1)];
        const known = (CONFIG_KEYS as readonly string[]).includes(name);
        if (namespace === PROJECT && !known) {
            problems.push(`${full}: is not a key of this project; did you mean \`${PROJECT}:${closestKey(name)}\`? (rename it in Pulumi.<stack>.yaml or with \`pulumi config rm\` / \`set\`)`);
        } else if (namespace !== PROJECT && namespace !== "" && editDistance(namespace, PROJECT) <= NAMESPACE_TYPO_EDITS) {
            problems.push(`${full}: "${namespace}" is not this project's namespace; did you mean \`${PROJECT}:${known ? name : closestKey(name)}\`?`);
        }
    }
    return problems;
}

/** IAM's hard limit of managed policies per role (10 by default, adjustable to 20). */
export const MAX_MANAGED_POLICIES_PER_ROLE = 20;

/** Upper bound on kf-user shards: more would be a typo, not a plan (5,000 profiles need ~300 at a 2048 quota, ~110 at 4096). */
export const MAX_USER_ROLE_SHARDS = 1000;

/** Bad configuration: every problem found, one per line, each naming key, value and fix. */
export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

/** A raw config value: what the CLI hands over (strings) or a structured value (tests, YAML). */
export type RawValue = string | number | boolean | object | undefined;
export type RawConfig = (key: string) => RawValue;

const EMAIL = /^[^@\s"'*?]+@[^@\s"'*?]+\.[^@\s"'*?]+$/;

const key = (name: string) => (name.includes(":") ? name : `${PROJECT}:${name}`);
const show = (value: unknown) => JSON.stringify(value);

/** Collects problems while reading keys, so one run reports them all. */
class Reader {
    readonly problems: string[] = [];
    constructor(private readonly raw: RawConfig) {}

    private structured(name: string): unknown {
        const value = this.raw(key(name));
        if (typeof value !== "string") return value;
        const text = value.trim();
        if (text.startsWith("{") || text.startsWith("[")) {
            try {
                return JSON.parse(text);
            } catch {
                this.problems.push(`${key(name)}: ${show(value)} is not valid JSON; write it as a YAML list or map in Pulumi.<stack>.yaml`);
                return undefined;
            }
        }
        return value;
    }

    problem(name: string, text: string): void {
        this.problems.push(`${key(name)}: ${text}`);
    }

    string(name: string, fallback?: string): string | undefined {
        const value = this.raw(key(name));
        if (value === undefined || value === "") return fallback;
        if (typeof value !== "string") {
            this.problem(name, `${show(value)} is not a string`);
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

    boolean(name: string, fallback: boolean): boolean {
        const value = this.raw(key(name));
        if (value === undefined || value === "") return fallback;
        if (value === true || value === "true") return true;
        if (value === false || value === "false") return false;
        this.problem(name, `${show(value)} is not a boolean; use true or false`);
        return fallback;
    }

    integer(name: string, fallback: number, min: number, max: number, fix: string): number {
        const value = this.raw(key(name));
        if (value === undefined || value === "") return fallback;
        const n = typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
        if (!Number.isInteger(n) || n < min || n > max) {
            this.problem(name, `${show(value)} is out of range: use a whole number from ${min} to ${max}; ${fix}`);
            return fallback;
        }
        return n;
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
        if (value === undefined || value === "") return fallback;
        if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
            this.problem(name, `${show(value)} is not a list of strings`);
            return fallback;
        }
        return value as string[];
    }

    objects(name: string): Record<string, unknown>[] | undefined {
        const value = this.structured(name);
        if (value === undefined || value === "") return undefined;
        if (!Array.isArray(value) || value.some((v) => typeof v !== "object" || v === null || Array.isArray(v))) {
            this.problem(name, `${show(value)} is not a list of maps`);
            return undefined;
        }
        return value as Record<string, unknown>[];
    }

    object(name: string): Record<string, unknown> | undefined {
        const value = this.structured(name);
        // Pulumi.yaml's default is "" ("not set"); an empty map means the same, in JSON or as older
        // CLIs rendered it (Go's "map[]").
        if (value === undefined || value === "" || value === "map[]") return undefined;
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
            this.problem(name, `${show(value)} is not a map`);
            return undefined;
        }
        return Object.keys(value).length > 0 ? (value as Record<string, unknown>) : undefined;
    }
}

function readProfiles(reader: Reader): ProfileConfig[] {
    const entries = reader.objects("profiles") ?? [];
    const seen = new Map<string, number>();
    const profiles: ProfileConfig[] = [];
    entries.forEach((entry, index) => {
        const at = `profiles[${index}]`;
        const unknown = Object.keys(entry).filter((k) => !PROFILE_FIELDS.includes(k));
        if (unknown.length > 0) reader.problem(at, `unknown field ${unknown.map(show).join(", ")}; a profile has name, owner and optionally awsIamRole and serviceAccounts (spelled so)`);
        const { name, owner, awsIamRole } = entry;
        if (typeof name !== "string" || name === "") {
            reader.problem(`${at}.name`, `${show(name)} is missing or not a string; set the profile's namespace name`);
        } else {
            const problem = namespaceProblem(name);
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
            const problem = typeof awsIamRole === "string" ? roleArnProblem(awsIamRole) : `${show(awsIamRole)} is not a string`;
            if (problem) reader.problem(`${at}.awsIamRole`, `${problem}; or leave awsIamRole out to use the stack's kf-user role`);
        }
        const serviceAccounts = readProfileServiceAccounts(reader, at, entry.serviceAccounts);
        profiles.push({ name: String(name), owner: String(owner), ...(typeof awsIamRole === "string" ? { awsIamRole } : {}), serviceAccounts });
    });
    return profiles;
}

const PROFILE_FIELDS = ["name", "owner", "awsIamRole", "serviceAccounts"];

/** A profile's `serviceAccounts`: names (RFC 1123) of its namespace's service accounts, no repeats. */
function readProfileServiceAccounts(reader: Reader, at: string, value: unknown): string[] {
    if (value === undefined) return [DEFAULT_EDITOR];
    const fix = `list service-account names of the profile's namespace, e.g. ["${DEFAULT_EDITOR}", "default"]`;
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
        reader.problem(`${at}.serviceAccounts`, `${show(value)} is not a list of service-account names; ${fix}`);
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

function readExistingCluster(reader: Reader): ExistingClusterConfig | undefined {
    const value = reader.object("existingCluster");
    if (!value) return undefined;
    const unknown = Object.keys(value).filter((k) => !["oidcIssuerUrl", "oidcProviderArn"].includes(k));
    if (unknown.length > 0) {
        reader.problem("existingCluster", `unknown field ${unknown.map(show).join(", ")}; the map has oidcIssuerUrl and optionally oidcProviderArn (spelled so)`);
        return undefined;
    }
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

/** Reports every entry of a list that repeats an earlier one. */
function duplicates(reader: Reader, name: string, values: string[], normalize: (v: string) => string = (v) => v): void {
    const first = new Map<string, number>();
    values.forEach((value, index) => {
        const seen = first.get(normalize(value));
        if (seen === undefined) first.set(normalize(value), index);
        else reader.problem(`${name}[${index}]`, `${show(value)} repeats ${name}[${seen}]; remove one`);
    });
}

function readAdminServiceAccounts(reader: Reader, fallback: string[]): string[] {
    const refs = reader.list("adminServiceAccounts", fallback);
    duplicates(reader, "adminServiceAccounts", refs);
    refs.forEach((ref, index) => {
        const parsed = parseServiceAccountRef(ref);
        const problem = !parsed
            ? `${show(ref)} is not "namespace:name"`
            : namespaceProblem(parsed.namespace) ?? serviceAccountProblem(parsed.serviceAccount);
        if (problem) reader.problem(`adminServiceAccounts[${index}]`, `${problem}; write each as "namespace:service-account", e.g. "kubeflow:kf-admin"`);
    });
    return refs;
}

/**
 * Reads and validates the whole configuration from a key lookup. Pure: the program passes
 * Pulumi's config, tests and `npm run synth` pass plain maps. Throws ConfigError with every problem.
 */
export function parseStackConfig(raw: RawConfig, kubeconfig?: pulumi.Output<string>, keys: readonly string[] = []): StackConfig {
    const reader = new Reader(raw);
    reader.problems.push(...unknownKeyProblems(keys));
    const region = reader.required("aws:region", "set it with `pulumi config set aws:region us-west-2`");
    if (region && !/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/.test(region)) {
        reader.problem("aws:region", `${show(region)} is not an AWS region name such as "us-west-2"`);
    }
    const clusterName = reader.required("clusterName", "set it with `pulumi config set clusterName <name>`");
    if (clusterName && !/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/.test(clusterName)) {
        reader.problem("clusterName", `${show(clusterName)} is not an EKS cluster name: use letters, digits, '-' and '_', starting with a letter or digit`);
    }
    const enableFsx = reader.boolean("enableFsx", DEFAULTS.enableFsx);
    const albController = reader.oneOf("albController", ALB_CONTROLLERS, DEFAULTS.albController);
    const adminRoleMode = reader.oneOf("adminRoleMode", ADMIN_ROLE_MODES, DEFAULTS.adminRoleMode);
    const config: StackConfig = {
        region,
        clusterName,
        existingCluster: readExistingCluster(reader),
        kubeconfig,
        enablePodIamPolicy: reader.boolean("enablePodIamPolicy", DEFAULTS.enablePodIamPolicy),
        enableFsx,
        albController,
        adminRoleMode,
        adminServiceAccounts: readAdminServiceAccounts(reader, defaultAdminServiceAccounts({ albController, enableFsx, adminRoleMode })),
        userPolicyArns: reader.list("userPolicyArns", DEFAULTS.userPolicyArns),
        profiles: readProfiles(reader),
        trustPolicyMaxChars: reader.integer(
            "trustPolicyMaxChars",
            DEFAULTS.trustPolicyMaxChars,
            DEFAULT_MAX_POLICY_CHARS,
            MAX_POLICY_CHARS_LIMIT,
            "set it to your account's 'Role trust policy length' quota (Service Quotas, IAM)",
        ),
        profileApiVersion: reader.oneOf("profileApiVersion", PROFILE_API_VERSIONS, DEFAULTS.profileApiVersion),
        userRoleShards: reader.integer("userRoleShards", DEFAULTS.userRoleShards, 1, MAX_USER_ROLE_SHARDS, "each shard is one more kf-user role"),
        identityMode: reader.oneOf("identityMode", IDENTITY_MODES, DEFAULTS.identityMode),
        nodeGroup: {
            instanceType: reader.string("instanceType", DEFAULTS.instanceType)!,
            desiredCapacity: reader.integer("desiredCapacity", DEFAULTS.desiredCapacity, 0, 1000, "the node group's desired size"),
            minSize: reader.integer("minSize", DEFAULTS.minSize, 0, 1000, "the node group's minimum size"),
            maxSize: reader.integer("maxSize", DEFAULTS.maxSize, 1, 1000, "the node group's maximum size"),
        },
        kubeflowInstalled: reader.boolean("kubeflowInstalled", DEFAULTS.kubeflowInstalled),
        deleteRemovedProfiles: reader.boolean("deleteRemovedProfiles", DEFAULTS.deleteRemovedProfiles),
    };
    duplicates(reader, "userPolicyArns", config.userPolicyArns);
    if (config.userPolicyArns.length > MAX_MANAGED_POLICIES_PER_ROLE) {
        reader.problem(
            "userPolicyArns",
            `${config.userPolicyArns.length} policies, but IAM attaches at most ${MAX_MANAGED_POLICIES_PER_ROLE} managed policies to a role (10 by default); combine some into one policy`,
        );
    }
    if (config.adminRoleMode === "perController") {
        // Each component's accounts are trusted by its own role; kf-admin holds no policy then.
        const owners = new Map(controlPlaneComponents(config).flatMap((c) => c.serviceAccounts.map((sa) => [sa, c] as const)));
        config.adminServiceAccounts.forEach((ref, index) => {
            const owner = owners.get(ref);
            if (owner) {
                reader.problem(
                    `adminServiceAccounts[${index}]`,
                    `${show(ref)} is the ${owner.title}'s service account, which kubeflow-irsa:adminRoleMode perController trusts on its own role; remove it from adminServiceAccounts (kf-admin holds no policy in that mode)`,
                );
            }
        });
    }
    if (config.identityMode === "podIdentity") {
        // One Pod Identity association per service account: a profile's service account cannot
        // also be bound to kf-admin or, in perController mode, to a component's own role.
        const profileAccounts = new Map<string, string>(config.profiles.flatMap((p) => p.serviceAccounts.map((sa) => [`${p.name}:${sa}`, p.name] as const)));
        config.adminServiceAccounts.forEach((ref, index) => {
            const profile = profileAccounts.get(ref);
            if (profile !== undefined) {
                reader.problem(`adminServiceAccounts[${index}]`, `${show(ref)} is also a service account of profile ${show(profile)}, and a service account has one Pod Identity association; remove one`);
            }
        });
        if (config.adminRoleMode === "perController") {
            for (const component of controlPlaneComponents(config)) {
                for (const ref of component.serviceAccounts.filter((r) => profileAccounts.has(r))) {
                    reader.problem(
                        "profiles",
                        `profile ${show(profileAccounts.get(ref))} lists ${show(ref.split(":")[1])}, which is the ${component.title}'s service account, bound to its own role in perController mode, and a service account has one Pod Identity association; remove it from the profile`,
                    );
                }
            }
        }
    }
    config.userPolicyArns.forEach((arn, index) => {
        if (!/^arn:aws(-cn|-us-gov)?:iam::(\d{12}|aws):policy\/[\w+=,.@\/-]+$/.test(arn)) {
            reader.problem(`userPolicyArns[${index}]`, `${show(arn)} is not a managed policy ARN ("arn:aws:iam::<account|aws>:policy/<name>")`);
        }
    });
    if (config.deleteRemovedProfiles && !config.kubeflowInstalled && config.profiles.length > 0) {
        // Without kubeflowInstalled no Profile is registered: with deletion on, an `up` would
        // delete every Profile already in the cluster, and Kubeflow every team's namespace.
        reader.problem(
            "deleteRemovedProfiles",
            "true while kubeflow-irsa:kubeflowInstalled is false: the Profiles are then not part of the stack, so an `up` would delete every Profile (and Kubeflow every namespace) already in the cluster; set kubeflow-irsa:kubeflowInstalled to true once Kubeflow runs, or deleteRemovedProfiles to false",
        );
    }
    const { minSize, maxSize, desiredCapacity } = config.nodeGroup;
    if (minSize > desiredCapacity || desiredCapacity > maxSize) {
        reader.problem("desiredCapacity", `minSize ${minSize} ≤ desiredCapacity ${desiredCapacity} ≤ maxSize ${maxSize} does not hold; adjust the three node-group sizes`);
    }
    if (reader.problems.length > 0) throw new ConfigError(reader.problems);
    return config;
}

/** The stack's configuration as `pulumi up` sees it. */
export function readStackConfig(): StackConfig {
    const project = new pulumi.Config(PROJECT);
    const aws = new pulumi.Config("aws");
    const raw: RawConfig = (name) => {
        const [namespace, bare] = name.split(":");
        return (namespace === "aws" ? aws : project).get(bare);
    };
    const kubeconfig = project.get("kubeconfig") ? project.requireSecret("kubeconfig") : undefined;
    return parseStackConfig(raw, kubeconfig, Object.keys(pulumi.runtime.allConfig()));
}
