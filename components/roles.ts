// kf-admin and kf-user (with its shards): the roles kfctl's `enablePodIamPolicy` created, with
// their permission policies. Each role's trust policy belongs to its TrustSubjects resource in
// both modes (components/profiles.ts): the OIDC subjects (IRSA) or the Pod Identity statement,
// whose service accounts Pod Identity associations bind.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { subjectOfRef } from "../domain/subjects";
import { buildTrustPolicy, serializePolicy } from "../domain/trustPolicy";
import { permissionPlan, type PermissionArgs, type PlannedPolicy } from "./permissionPlan";
import { podIdentityTrust } from "./podIdentityTrust";
import type { IdentityMode } from "./config";
import { controlPlaneComponents, type ComponentId } from "./controllers";
import { roleTags } from "./placement";

export { loadPolicy, type PolicyVariables } from "./permissionPlan";

export interface KubeflowRolesArgs extends PermissionArgs {
    identityMode: IdentityMode;
    /** The cluster's IAM OIDC provider (IRSA mode). */
    oidcProviderArn: pulumi.Input<string | undefined>;
    /** podIdentity: this cluster's ARN; the roles trust, and kf-user's policies allow, only sessions EKS tags with it. */
    clusterArn?: pulumi.Input<string>;
    /** The subject each role's initial trust statement names (IRSA mode); a component's role names its first service account. */
    anchors: { admin: string; user: string };
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
        // Every permission policy comes from the plan planStack checked against IAM's quotas.
        const plans = new Map(permissionPlan(args).map((p) => [p.role, p]));
        const clusterArn = pulumi.output(args.clusterArn ?? "");
        const attachPlanned = (target: aws.iam.Role, roleName: string) => {
            const plan = plans.get(roleName)!;
            const render = (policy: PlannedPolicy) => clusterArn.apply((arn) => serializePolicy(policy.render(arn)));
            for (const policy of plan.inline) new aws.iam.RolePolicy(`${roleName}-${policy.name}`, { role: target.name, name: policy.name, policy: render(policy) }, { parent: target });
            // Pages a page's namespaces may move to are attached before it changes (chaining.ts).
            const attached = new Map<number, aws.iam.RolePolicyAttachment>();
            for (const page of [...plan.pages].sort((a, b) => b.index - a.index)) {
                const policy = new aws.iam.Policy(
                    page.name,
                    { name: page.name, description: `Chained Pod Identity profiles of ${args.clusterName}, page ${page.index} (kubeflow-irsa)`, policy: render(page) },
                    { parent: target, dependsOn: page.after.map((j) => attached.get(j)!) },
                );
                attached.set(page.index, new aws.iam.RolePolicyAttachment(page.name, { role: target.name, policyArn: policy.arn }, { parent: target }));
            }
        };

        this.adminRole = role(args.names.admin, args.anchors.admin, `Kubeflow control plane on ${args.clusterName} (kubeflow-irsa)`);
        attachPlanned(this.adminRole, args.names.admin);
        if (args.adminRoleMode === "shared") for (const component of controlPlaneComponents(args)) this.controllerRoles.set(component.id, this.adminRole);
        for (const { component, name: roleName } of args.names.controllers) {
            const own = role(roleName, subjectOfRef(component.serviceAccounts[0]), `${component.title} on ${args.clusterName} (kubeflow-irsa)`);
            attachPlanned(own, roleName);
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
            attachPlanned(userRole, roleName);
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
