// The whole stack as one component: cluster and OIDC provider, kf-admin/kf-user roles, profiles.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ClusterOidc } from "./cluster";
import { ConfigError, type StackConfig } from "./config";
import { controlPlaneWarnings } from "./controllers";
import {
    accountFromConfig,
    ANCHOR_SUBJECTS,
    capacityProblems,
    drainingShardsOf,
    planTrust,
    podIdentityTargets,
    roleNameProblems,
    shardDrains,
    userRoleName,
    userShards,
    type ExistingRole,
    type TrustPlan,
} from "./placement";
import { KubeflowProfiles } from "./profiles";
import { currentOwner } from "../providers/trustSubjects";
import { KubeflowRoles } from "./roles";
import type { ChainTarget } from "./chaining";
import { permissionPlanProblems } from "./permissionPlan";
import { componentRoleProblems, needsAccount, pinnedShardProblems, unknownAccountProblems } from "./stackRoles";

/**
 * Plans the stack and validates what config parsing cannot see alone (role-name length, which
 * awsIamRole ARNs are the stack's own roles, trust policy capacity per role). `account`: the one
 * the stack deploys to (deployerAccount). Throws ConfigError before any resource is registered.
 */
export function planStack(config: StackConfig, account?: string, drainingShards: readonly number[] = []): TrustPlan {
    const shards = userShards(config, account);
    const stackRoles = config.enablePodIamPolicy
        ? [...unknownAccountProblems(config, shards.shards, account), ...componentRoleProblems(config, account), ...pinnedShardProblems(config, shards.shards, account)]
        : [];
    const problems = [...roleNameProblems(config, shards.shards), ...stackRoles];
    if (problems.length > 0) throw new ConfigError(problems);
    const plan = planTrust(config, shards, account, drainingShards);
    if (config.enablePodIamPolicy && config.identityMode === "irsa") {
        const capacity = capacityProblems(config, plan, account);
        if (capacity.length > 0) throw new ConfigError(capacity);
    }
    // IAM's quotas on permission policies (inline total, managed size and count), per role.
    const permissions = config.enablePodIamPolicy ? permissionPlanProblems({ ...config, names: plan.names, chainTargets: chainTargets(config, account) }) : [];
    if (permissions.length > 0) throw new ConfigError(permissions);
    return plan;
}

/** The profiles kf-user chains to a role of another account (podIdentity), for its policies. */
function chainTargets(config: StackConfig, account?: string): ChainTarget[] {
    const targets = podIdentityTargets(config, account);
    return config.profiles.filter((p) => targets.has(p.name)).map((p) => ({ namespace: p.name, serviceAccounts: p.serviceAccounts, targetRoleArn: targets.get(p.name)! }));
}

/** Whether placement needs the deployer's account (see deployerAccount). */
export function needsDeployerAccount(config: StackConfig): boolean {
    if (!config.enablePodIamPolicy) return false;
    // podIdentity: a role of another account is reached by chaining from kf-user (podIdentityTargets).
    const chaining = config.identityMode === "podIdentity" && config.profiles.some((p) => p.awsIamRole !== undefined);
    return chaining || needsAccount(config);
}

/**
 * The account the stack deploys its roles to, when placement needs it (an awsIamRole ARN that
 * names a role this stack creates: it is that role only in this account): STS's answer
 * (`aws.getCallerIdentity` through the stack's default aws provider, the identity that creates the
 * roles), checked against an existing cluster's OIDC provider ARN, which must be in the same
 * account; the provider ARN's account when STS gives none. An invoke, not a resource: nothing is
 * registered before config and placement are validated.
 */
export async function deployerAccount(config: StackConfig): Promise<string | undefined> {
    if (!needsDeployerAccount(config)) return undefined;
    const fromConfig = accountFromConfig(config);
    const identity = await aws.getCallerIdentity({});
    const fromSts = typeof identity?.accountId === "string" && /^\d{12}$/.test(identity.accountId) ? identity.accountId : undefined;
    if (fromConfig && fromSts && fromConfig !== fromSts) {
        throw new ConfigError([
            `kubeflow-irsa:existingCluster.oidcProviderArn: the provider is in account ${fromConfig}, but the stack's AWS credentials deploy to account ${fromSts}; ` +
                "a role can only trust an OIDC provider of its own account: deploy with credentials for that account (aws:profile / aws:assumeRoles), or give the provider ARN of this one",
        ]);
    }
    return fromSts ?? fromConfig;
}

/**
 * Whether kf-user shards beyond userRoleShards may be draining, so that the program must ask IAM
 * which exist (see drainingUserShards): IRSA, and not every move finished.
 */
export function mayDrainShards(config: StackConfig): boolean {
    return config.enablePodIamPolicy && config.identityMode === "irsa" && config.finishMoves !== true;
}

/**
 * The kf-user shards beyond userRoleShards that still drain (`iam:ListRoles` and `iam:GetRole`
 * through the stack's aws provider: `aws.iam.getRoles`, `aws.iam.getRole`): left by a lowered
 * count, the stack's own shards that still trust moved profiles, whose running pods still use
 * them (shardStillDrains). The program keeps them, with their TrustSubjects holding only what
 * drains, until the moves are finished — otherwise the engine would delete a role that running
 * pods use. Invokes, not resources.
 */
export async function drainingUserShards(config: StackConfig, account?: string): Promise<number[]> {
    if (!mayDrainShards(config)) return [];
    const stem = userRoleName(config);
    const found = await aws.iam.getRoles({ nameRegex: `^${stem.replace(/[.+]/g, "\\$&")}-[0-9]+$` });
    // The count as planStack computes it (with `auto` it depends on the profiles, and on which awsIamRole ARNs are the stack's shards).
    const candidates = drainingShardsOf(config, userShards(config, account).shards, found?.names ?? []);
    const roles = await Promise.all(candidates.map((n) => existingRole(`${stem}-${n}`)));
    const verdicts = roles.map((role) => (role ? shardDrains(config, role) : false));
    const problems = verdicts.flatMap((v) => (typeof v === "object" ? [v.problem] : []));
    if (problems.length > 0) throw new ConfigError(problems);
    return candidates.filter((_, i) => verdicts[i] === true);
}

/** The role as IAM reports it, or undefined when IAM says there is none (a listing can lag a delete). */
async function existingRole(name: string): Promise<ExistingRole | undefined> {
    try {
        const role = await aws.iam.getRole({ name });
        return { name, assumeRolePolicy: role.assumeRolePolicy, tags: role.tags ?? {} };
    } catch (err) {
        // The aws provider's words for a role IAM does not have (a 404 NoSuchEntity); anything
        // else — a denial above all — is not taken for absence.
        const message = (err as Error).message ?? String(err);
        if (/couldn't find resource|NoSuchEntity/.test(message) && !/AccessDenied|StatusCode: 403|status code: 403/i.test(message)) return undefined;
        throw new Error(`reading role "${name}" (iam:GetRole), a kf-user shard beyond kubeflow-irsa:userRoleShards that may still drain moved profiles, failed: ${message}`);
    }
}

export interface KubeflowIrsaArgs extends StackConfig {
    /**
     * The account the roles are created in (see deployerAccount). Required when an awsIamRole ARN
     * has the name of a role this stack creates (needsDeployerAccount): without it the config is refused.
     * @default unknown
     */
    accountId?: string;
    /** kf-user shards beyond userRoleShards that still exist (drainingUserShards). @default none */
    drainingUserShards?: number[];
}

export class KubeflowIrsa extends pulumi.ComponentResource {
    public readonly clusterName: pulumi.Output<string>;
    public readonly oidcProviderArn: pulumi.Output<string | undefined>;
    public readonly oidcIssuer: pulumi.Output<string>;
    public readonly kfAdminRoleArn: pulumi.Output<string | undefined>;
    public readonly kfUserRoleArn: pulumi.Output<string | undefined>;
    /** kf-user and its shards. */
    public readonly kfUserRoleArns: pulumi.Output<string[]>;
    public readonly profileRoleArns: pulumi.Output<Record<string, string>>;
    /** `<namespace>/<service account>` → the external id EKS passes to its target role (cross-account podIdentity only). */
    public readonly podIdentityExternalIds: pulumi.Output<Record<string, string>>;
    /** Control-plane component → the role ARN its service accounts use (kf-admin in shared mode). */
    public readonly controllerRoleArns: pulumi.Output<Record<string, string>>;
    public readonly kubeconfig: pulumi.Output<string | undefined>;
    /** Role name → subjects of moved profiles it keeps trusting until finishMoves (empty when nothing drains). */
    public readonly drainingTrust: pulumi.Output<Record<string, string[]>>;

    constructor(name: string, config: KubeflowIrsaArgs, opts?: pulumi.ComponentResourceOptions) {
        const plan = planStack(config, config.accountId, config.drainingUserShards ?? []);
        super("kubeflow-irsa:index:KubeflowIrsa", name, {}, opts);
        if (config.enablePodIamPolicy) for (const warning of controlPlaneWarnings(config)) pulumi.log.warn(warning, this);
        if (config.finishMoves === true || (Array.isArray(config.finishMoves) && config.finishMoves.length > 0)) {
            const which = config.finishMoves === true ? "every move" : `the moves of ${config.finishMoves.join(", ")}`;
            pulumi.log.warn(
                `kubeflow-irsa:finishMoves is set: this up finishes ${which} — the old roles stop trusting the moved service accounts` +
                    (config.finishMoves === true ? ", and kf-user shards beyond userRoleShards are deleted" : "") +
                    ". Remove the key after this up: while it is set, later moves cut running pods off at once",
                this,
            );
        }
        if (config.identityMode === "podIdentity" && typeof config.userRoleShards === "number" && config.userRoleShards > 1) {
            pulumi.log.warn(`kubeflow-irsa:userRoleShards (${config.userRoleShards}) is ignored in podIdentity mode: Pod Identity does not grow trust policies`, this);
        }

        const cluster = new ClusterOidc(
            "cluster",
            {
                clusterName: config.clusterName,
                existingCluster: config.existingCluster,
                kubeconfig: config.kubeconfig,
                createOidcProvider: config.enablePodIamPolicy && config.identityMode === "irsa",
                podIdentityAgent: config.enablePodIamPolicy && config.identityMode === "podIdentity",
                nodeGroup: config.nodeGroup,
                region: config.region,
            },
            { parent: this },
        );

        const targets = podIdentityTargets(config, config.accountId);
        const managedRoleArns = new Map<string, pulumi.Output<string>>();
        let roles: KubeflowRoles | undefined;
        if (config.enablePodIamPolicy) {
            roles = new KubeflowRoles(
                "roles",
                {
                    names: plan.names,
                    identityMode: config.identityMode,
                    oidcProviderArn: cluster.oidcProviderArn,
                    ...(cluster.clusterArn ? { clusterArn: cluster.clusterArn } : {}),
                    anchors: ANCHOR_SUBJECTS,
                    region: config.region,
                    clusterName: config.clusterName,
                    enableFsx: config.enableFsx,
                    albController: config.albController,
                    adminRoleMode: config.adminRoleMode,
                    userPolicyArns: config.userPolicyArns,
                    ...(config.profileBucket ? { profileBucket: config.profileBucket } : {}),
                    chainTargets: chainTargets(config, config.accountId),
                },
                { parent: this },
            );
            for (const [roleName, role] of roles.rolesByName) managedRoleArns.set(roleName, role.arn);
        }

        const profiles = new KubeflowProfiles(
            "profiles",
            {
                profiles: config.profiles,
                apiVersion: config.profileApiVersion,
                enablePodIamPolicy: config.enablePodIamPolicy,
                identityMode: config.identityMode,
                plan,
                managedRoleArns,
                oidcProviderArn: cluster.oidcProviderArn,
                clusterName: cluster.clusterName,
                ...(cluster.clusterArn ? { clusterArn: cluster.clusterArn } : {}),
                owner: currentOwner(`${config.region}/${config.clusterName}`),
                maxPolicyChars: config.trustPolicyMaxChars,
                adminServiceAccounts: config.adminServiceAccounts,
                k8sProvider: cluster.k8sProvider,
                podIdentityAgent: cluster.podIdentityAgent,
                kubeflowInstalled: config.kubeflowInstalled,
                deleteRemovedProfiles: config.deleteRemovedProfiles,
                targetRoles: targets,
            },
            // On a self-managed cluster the webhook must run before Kubeflow's pods are created.
            { parent: this, dependsOn: [...(roles ? [roles] : []), ...(cluster.webhook ? [cluster.webhook] : [])] },
        );

        this.clusterName = cluster.clusterName;
        this.oidcProviderArn = cluster.oidcProviderArn;
        this.oidcIssuer = cluster.oidcIssuer;
        this.kfAdminRoleArn = roles ? roles.adminRole.arn : pulumi.output(undefined);
        this.kfUserRoleArn = roles ? roles.userRoles[0].arn : pulumi.output(undefined);
        this.kfUserRoleArns = roles ? pulumi.all(roles.userRoles.map((r) => r.arn)) : pulumi.output([]);
        this.profileRoleArns = profiles.profileRoleArns;
        this.podIdentityExternalIds = profiles.externalIds;
        this.controllerRoleArns = roles
            ? pulumi.all(Object.fromEntries([...roles.controllerRoles].map(([id, role]) => [id, role.arn])))
            : pulumi.output<Record<string, string>>({});
        this.kubeconfig = cluster.kubeconfig;
        this.drainingTrust = pulumi
            .all(profiles.trustSubjects.map((t) => pulumi.all([t.roleName, t.draining])))
            .apply((entries) => Object.fromEntries(entries.filter(([, draining]) => Array.isArray(draining) && draining.length > 0)));
        this.registerOutputs({
            clusterName: this.clusterName,
            oidcProviderArn: this.oidcProviderArn,
            kfAdminRoleArn: this.kfAdminRoleArn,
            kfUserRoleArns: this.kfUserRoleArns,
            profileRoleArns: this.profileRoleArns,
            controllerRoleArns: this.controllerRoleArns,
            drainingTrust: this.drainingTrust,
        });
    }
}
