// The stack's configuration: reading and validation of the `kubeflow-irsa:*` keys into the contract
// of configContract.ts (re-exported here), failing before anything is registered, naming the key,
// the value and the fix.
//
// Pulumi.yaml declares the same keys and defaults for the CLI; under the mock runtime (tests,
// `npm run synth`) the CLI is absent, so the defaults of configContract.ts apply. A test keeps the
// two in step.

import * as pulumi from "@pulumi/pulumi";
import { bucketNameProblem, regionProblem } from "./names";
import { CONFIG_KEYS, unknownKeyProblems } from "./configKeys";
import { DEFAULT_MAX_POLICY_CHARS, MAX_POLICY_CHARS_LIMIT } from "../domain/trustPolicy";
import {
    duplicates,
    Reader,
    readAdminServiceAccounts,
    readExistingCluster,
    readProfiles,
    show,
    type OriginOf,
    type RawConfig,
} from "./configReader";
import { ADMIN_ROLE_MODES, ALB_CONTROLLERS, CONTAINER_INSIGHTS_FLUENT_BIT, controlPlaneComponents, defaultAdminServiceAccounts } from "./controllers";
import {
    DEFAULTS,
    IDENTITY_MODES,
    MAX_MANAGED_POLICIES_PER_ROLE,
    MAX_USER_ROLE_SHARDS,
    PROFILE_API_VERSIONS,
    PROJECT,
    type StackConfig,
} from "./configContract";

export { CONFIG_KEYS, unknownKeyProblems };
export type { OriginOf, RawConfig, RawValue } from "./configReader";
export * from "./configContract";

/** Bad configuration: every problem found, one per line, each naming key, value and fix. */
export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

/**
 * kubeflowInstalled has no default, because either default deletes somebody's work. A stack
 * deployed before the key existed registered its Profiles on every `up`, without retainOnDelete:
 * a default of false stops registering them, and the engine deletes each one with the options
 * of the old state — Kubeflow then deletes the team's namespace. The program cannot see the
 * state, so the user decides, before anything is registered.
 */
export const KUBEFLOW_INSTALLED_UNSET =
    "is not set, and the stack will not guess: set it to true if Kubeflow runs on the cluster — a stack deployed by an earlier version has its Profiles in state, and true keeps them " +
    "(false would make this `up` delete every Profile, and Kubeflow every team's namespace); set it to false only before the first `up` of a new cluster, until Kubeflow is installed " +
    "(`pulumi config set kubeflow-irsa:kubeflowInstalled true`, see the README's Upgrading section)";

/** finishMoves: true, false, or a list of profile names (checked against the profiles below). */
function readFinishMoves(reader: Reader): boolean | string[] {
    return reader.booleanOrList("finishMoves") ?? false;
}

function readKubeflowInstalled(reader: Reader): boolean {
    const value = reader.boolean("kubeflowInstalled", undefined);
    if (value === undefined) reader.problem("kubeflowInstalled", KUBEFLOW_INSTALLED_UNSET);
    return value ?? false;
}

/**
 * Reads and validates the whole configuration from a key lookup. Pure: the program passes
 * Pulumi's config, tests and `npm run synth` pass plain maps. Throws ConfigError with every problem.
 * `origin` tells which values came from the offline tools' --config, so a fix says where to make it.
 */
export function parseStackConfig(raw: RawConfig, kubeconfig?: pulumi.Output<string>, keys: readonly string[] = [], origin?: OriginOf): StackConfig {
    const reader = new Reader(raw, origin);
    reader.problems.push(...unknownKeyProblems(keys, reader.origin));
    const region = reader.required("aws:region", "set it with `pulumi config set aws:region us-west-2`");
    const badRegion = region ? regionProblem(region) : undefined;
    if (badRegion) reader.problem("aws:region", badRegion);
    const clusterName = reader.required("clusterName", "set it with `pulumi config set clusterName <name>`");
    if (clusterName && !/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/.test(clusterName)) {
        reader.problem("clusterName", `${show(clusterName)} is not an EKS cluster name: use letters, digits, '-' and '_', starting with a letter or digit`);
    }
    const enableFsx = reader.boolean("enableFsx", DEFAULTS.enableFsx);
    const albController = reader.oneOf("albController", ALB_CONTROLLERS, DEFAULTS.albController);
    const adminRoleMode = reader.oneOf("adminRoleMode", ADMIN_ROLE_MODES, DEFAULTS.adminRoleMode);
    const identityMode = reader.oneOf("identityMode", IDENTITY_MODES, DEFAULTS.identityMode);
    const logShipperServiceAccounts = readAdminServiceAccounts(reader, DEFAULTS.logShipperServiceAccounts, "logShipperServiceAccounts", CONTAINER_INSIGHTS_FLUENT_BIT);
    const config: StackConfig = {
        region,
        clusterName,
        existingCluster: readExistingCluster(reader, region, clusterName),
        kubeconfig,
        enablePodIamPolicy: reader.boolean("enablePodIamPolicy", DEFAULTS.enablePodIamPolicy),
        enableFsx,
        albController,
        adminRoleMode,
        adminServiceAccounts: readAdminServiceAccounts(reader, defaultAdminServiceAccounts({ albController, enableFsx, adminRoleMode, logShipperServiceAccounts })),
        logShipperServiceAccounts,
        userPolicyArns: reader.list("userPolicyArns", DEFAULTS.userPolicyArns),
        profiles: readProfiles(reader, region),
        trustPolicyMaxChars: reader.integer(
            "trustPolicyMaxChars",
            DEFAULTS.trustPolicyMaxChars,
            DEFAULT_MAX_POLICY_CHARS,
            MAX_POLICY_CHARS_LIMIT,
            "set it to your account's 'Role trust policy length' quota (Service Quotas, IAM)",
        ),
        profileApiVersion: reader.oneOf("profileApiVersion", PROFILE_API_VERSIONS, DEFAULTS.profileApiVersion),
        userRoleShards: reader.integerOr("userRoleShards", "auto", DEFAULTS.userRoleShards, 1, MAX_USER_ROLE_SHARDS, "each shard is one more kf-user role; or auto, and the stack picks the count"),
        identityMode,
        nodeGroup: {
            instanceType: reader.string("instanceType", DEFAULTS.instanceType)!,
            desiredCapacity: reader.integer("desiredCapacity", DEFAULTS.desiredCapacity, 0, 1000, "the node group's desired size"),
            minSize: reader.integer("minSize", DEFAULTS.minSize, 0, 1000, "the node group's minimum size"),
            maxSize: reader.integer("maxSize", DEFAULTS.maxSize, 1, 1000, "the node group's maximum size"),
        },
        kubeflowInstalled: readKubeflowInstalled(reader),
        deleteRemovedProfiles: reader.boolean("deleteRemovedProfiles", DEFAULTS.deleteRemovedProfiles),
        finishMoves: readFinishMoves(reader),
        ...optional("profileBucket", reader.string("profileBucket")),
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
    if (Array.isArray(config.finishMoves)) {
        const names = new Set(config.profiles.map((p) => p.name));
        config.finishMoves.forEach((name, index) => {
            // A profile removed from the config loses its trust at once: only current ones drain.
            if (!names.has(name)) reader.problem(`finishMoves[${index}]`, `${show(name)} is not a profile of this stack; list the names of moved profiles (a removed profile's trust goes without finishing), or set true to finish every move`);
        });
    }
    if (config.deleteRemovedProfiles && !config.kubeflowInstalled && config.profiles.length > 0) {
        // Without kubeflowInstalled no Profile is registered: with deletion on, an `up` would
        // delete every Profile already in the cluster, and Kubeflow every team's namespace.
        reader.problem(
            "deleteRemovedProfiles",
            "true while kubeflow-irsa:kubeflowInstalled is false: the Profiles are then not part of the stack, so an `up` would delete every Profile (and Kubeflow every namespace) already in the cluster; set kubeflow-irsa:kubeflowInstalled to true once Kubeflow runs, or deleteRemovedProfiles to false",
        );
    }
    if (config.profileBucket !== undefined) profileBucketProblems(reader, config);
    if (config.existingCluster?.selfManaged && config.kubeconfig === undefined && reader.string("kubeconfig") === undefined) {
        // A cluster-wide mutating webhook must not land on whatever kubectl context is current.
        reader.problem("kubeconfig", "is required with existingCluster.selfManaged: the stack deploys the pod identity webhook into that cluster; set it with `pulumi config set --secret kubeflow-irsa:kubeconfig \"$(cat kubeconfig)\"`");
    }
    if (config.existingCluster?.selfManaged && config.identityMode === "podIdentity") {
        reader.problem("existingCluster.selfManaged", "is a self-managed cluster, and EKS Pod Identity exists only on EKS: use identityMode irsa (the stack deploys the pod identity webhook for it)");
    }
    const { minSize, maxSize, desiredCapacity } = config.nodeGroup;
    if (minSize > desiredCapacity || desiredCapacity > maxSize) {
        reader.problem("desiredCapacity", `minSize ${minSize} ≤ desiredCapacity ${desiredCapacity} ≤ maxSize ${maxSize} does not hold; adjust the three node-group sizes`);
    }
    if (reader.problems.length > 0) throw new ConfigError(reader.problems);
    return config;
}

const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));

/** AWS-managed policies that reach every bucket's objects (read or write). */
const BROAD_S3_POLICIES = ["AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "AmazonS3FullAccess", "AmazonS3ReadOnlyAccess", "ViewOnlyAccess", "DataScientist"];

function profileBucketProblems(reader: Reader, config: StackConfig): void {
    const bucket = config.profileBucket!;
    const badName = bucketNameProblem(bucket);
    if (badName) reader.problem("profileBucket", `${badName}; give the bucket's name, not an ARN or s3:// URL`);
    // AWS-managed policies that grant S3 on every bucket: with one on kf-user, every team reads every prefix.
    config.userPolicyArns.forEach((arn, index) => {
        const name = /^arn:aws(-cn|-us-gov)?:iam::aws:policy\/(?:.*\/)?([\w+=,.@-]+)$/.exec(arn)?.[2];
        if (name && BROAD_S3_POLICIES.includes(name)) {
            reader.problem(
                `userPolicyArns[${index}]`,
                `${show(arn)} grants S3 on every bucket to every team on kf-user, which undoes kubeflow-irsa:profileBucket's isolation (each team its own prefix); remove it, or scope your own policy with \${aws:PrincipalTag/kubernetes-namespace}`,
            );
        }
    });
    if (!config.enablePodIamPolicy) {
        reader.problem("profileBucket", "is set while kubeflow-irsa:enablePodIamPolicy is false: there is no role to grant the bucket to; remove profileBucket or enable the IAM side");
    } else if (config.identityMode !== "podIdentity") {
        // IRSA sessions carry no namespace: one shared kf-user role could not keep teams apart.
        reader.problem(
            "profileBucket",
            "needs kubeflow-irsa:identityMode podIdentity: only EKS Pod Identity sessions carry the namespace (the kubernetes-namespace session tag) that keeps each team to its own prefix; IRSA sessions of the shared kf-user role carry none, so every team could read every other's data. Set identityMode to podIdentity, or give teams roles of their own (awsIamRole) with their own bucket policies",
        );
    }
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
