// kf-admin and kf-user (with its shards): the roles kfctl's `enablePodIamPolicy` created, with
// their permission policies. Each role's trust policy belongs to its TrustSubjects resource in
// both modes (components/profiles.ts): the OIDC subjects (IRSA) or the Pod Identity statement,
// whose service accounts Pod Identity associations bind.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { subjectOfRef } from "../providers/subjects";
import { buildTrustPolicy, serializePolicy, type PolicyDocument } from "../providers/trustPolicy";
import { TARGET_ROLES_POLICY, targetRolesPolicy, type ChainTarget } from "./chaining";
import { podIdentityTrust } from "./podIdentityTrust";
import type { IdentityMode } from "./config";
import { controlPlaneComponents, type AdminRoleMode, type AlbController, type ComponentId } from "./controllers";
import { partitionOf, roleTags, type RoleNames } from "./placement";

export interface PolicyVariables {
    partition: string;
    region: string;
    cluster: string;
    /** The profiles' S3 bucket (profile-bucket.json). */
    bucket?: string;
    /** The cluster's ARN, which Pod Identity sessions are tagged with (profile-bucket.json). */
    clusterArn?: string;
}

/** A reviewed policy document from `components/policies/<name>.json`, with `${var}` filled in. */
export function loadPolicy(name: string, vars: PolicyVariables): string {
    const text = fs.readFileSync(path.join(__dirname, "policies", `${name}.json`), "utf8");
    const filled = text.replace(/\$\{(\w+)\}/g, (whole, key: string) => {
        if (vars[key as keyof PolicyVariables] === undefined) throw new Error(`policy ${name}.json uses unknown variable ${whole}`);
        return vars[key as keyof PolicyVariables]!;
    });
    return serializePolicy(JSON.parse(filled) as PolicyDocument);
}

export interface KubeflowRolesArgs {
    names: RoleNames;
    identityMode: IdentityMode;
    /** The cluster's IAM OIDC provider (IRSA mode). */
    oidcProviderArn: pulumi.Input<string | undefined>;
    /** podIdentity: this cluster's ARN; the roles trust, and kf-user's policies allow, only sessions EKS tags with it. */
    clusterArn?: pulumi.Input<string>;
    /** The subject each role's initial trust statement names (IRSA mode); a component's role names its first service account. */
    anchors: { admin: string; user: string };
    region: string;
    clusterName: string;
    /** The FSx for Lustre CSI driver's policy too. @default false */
    enableFsx: boolean;
    /** Which load balancer controller's policy. @default "v2" */
    albController: AlbController;
    /** shared: kf-admin holds every component's policy; perController: each component's own role does (names.controllers). */
    adminRoleMode: AdminRoleMode;
    /** Managed policies for kf-user and its shards. @default [] */
    userPolicyArns: string[];
    /** podIdentity: the bucket whose `<namespace>/` prefix each session of kf-user may use. */
    profileBucket?: string;
    /** podIdentity: roles of other accounts kf-user chains to (associations' targetRoleArn), per profile. @default [] */
    chainTargets?: ChainTarget[];
}

const shortHash = (text: string) => createHash("sha1").update(text).digest("hex").slice(0, 8);

export class KubeflowRoles extends pulumi.ComponentResource {
    public readonly adminRole: aws.iam.Role;
    /** kf-user first, then its shards in order. */
    public readonly userRoles: aws.iam.Role[];
    /** The role each control-plane component uses: its own (perController) or kf-admin (shared). */
    public readonly controllerRoles = new Map<ComponentId, aws.iam.Role>();
    /** Every role this component creates, by name. */
    public readonly rolesByName = new Map<string, aws.iam.Role>();

    constructor(name: string, args: KubeflowRolesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeflow-irsa:roles:KubeflowRoles", name, {}, opts);
        if (args.identityMode === "podIdentity" && args.clusterArn === undefined) throw new Error("KubeflowRoles: podIdentity mode needs clusterArn, which pins the roles to the cluster");
        const tags = roleTags(args);

        const role = (roleName: string, anchor: string, description: string) => {
            const irsa = args.identityMode === "irsa";
            const trust = irsa
                ? pulumi.output(args.oidcProviderArn).apply((arn) => serializePolicy(buildTrustPolicy(arn!, [anchor])))
                : pulumi.output(args.clusterArn).apply((arn) => serializePolicy(podIdentityTrust(arn!)));
            const created = new aws.iam.Role(
                roleName,
                // forceDetachPolicies: a policy someone attached by hand must not make the role's
                // deletion fail after its TrustSubjects was let go (retainOnDelete), which would
                // leave a role trusting namespaces with nothing owning them.
                { name: roleName, description, assumeRolePolicy: trust, tags, forceDetachPolicies: true },
                // The trust policy belongs to the role's TrustSubjects in both modes (the document
                // here is only the role's first one); without ignoreChanges every `up` would
                // revert its edits, and a mode switch would be two writers on one role.
                { parent: this, ignoreChanges: ["assumeRolePolicy"] },
            );
            this.rolesByName.set(roleName, created);
            return created;
        };
        const vars: PolicyVariables = { partition: partitionOf(args.region), region: args.region, cluster: args.clusterName, ...(args.profileBucket ? { bucket: args.profileBucket } : {}) };
        const attach = (target: aws.iam.Role, roleName: string, policy: string, withCluster = false) =>
            new aws.iam.RolePolicy(
                `${roleName}-${policy}`,
                {
                    role: target.name,
                    name: policy,
                    policy: withCluster ? pulumi.output(args.clusterArn).apply((clusterArn) => loadPolicy(policy, { ...vars, clusterArn })) : loadPolicy(policy, vars),
                },
                { parent: target },
            );

        this.adminRole = role(args.names.admin, args.anchors.admin, `Kubeflow control plane on ${args.clusterName} (kubeflow-irsa)`);
        if (args.adminRoleMode === "shared") {
            for (const component of controlPlaneComponents(args)) {
                attach(this.adminRole, args.names.admin, component.policy);
                this.controllerRoles.set(component.id, this.adminRole);
            }
        }
        for (const { component, name: roleName } of args.names.controllers) {
            const own = role(roleName, subjectOfRef(component.serviceAccounts[0]), `${component.title} on ${args.clusterName} (kubeflow-irsa)`);
            attach(own, roleName, component.policy);
            this.controllerRoles.set(component.id, own);
        }

        // A draining shard (a lowered userRoleShards) is the same role with the same policies, so
        // that nothing of it changes while running pods of its moved profiles still use it.
        const shardName = (roleName: string) => Number(roleName.slice(args.names.users[0].length + 1));
        const created = [...args.names.users, ...args.names.drainingUsers].map((roleName, index) => {
            const shard = index === 0 ? 0 : shardName(roleName);
            const description = shard === 0 ? `Kubeflow users on ${args.clusterName} (kubeflow-irsa)` : `Kubeflow users on ${args.clusterName}, shard ${shard} (kubeflow-irsa)`;
            const userRole = role(roleName, args.anchors.user, description);
            for (const policyArn of args.userPolicyArns) {
                new aws.iam.RolePolicyAttachment(`${roleName}-${shortHash(policyArn)}`, { role: userRole.name, policyArn }, { parent: userRole });
            }
            // Each Pod Identity session carries its namespace and cluster as tags: one policy isolates every team.
            if (args.profileBucket) attach(userRole, roleName, "profile-bucket", true);
            const targets = args.chainTargets ?? [];
            if (targets.length > 0) {
                new aws.iam.RolePolicy(
                    `${roleName}-${TARGET_ROLES_POLICY}`,
                    { role: userRole.name, name: TARGET_ROLES_POLICY, policy: pulumi.output(args.clusterArn).apply((arn) => serializePolicy(targetRolesPolicy(targets, arn!))) },
                    { parent: userRole },
                );
            }
            return userRole;
        });
        this.userRoles = created.slice(0, args.names.users.length);

        this.registerOutputs({
            adminRoleArn: this.adminRole.arn,
            userRoleArns: this.userRoles.map((r) => r.arn),
            controllerRoleArns: Object.fromEntries([...this.controllerRoles].map(([id, r]) => [id, r.arn])),
        });
    }
}
