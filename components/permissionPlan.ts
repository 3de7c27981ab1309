// The permission policies the stack puts on each of its roles, decided once: KubeflowRoles creates
// them from this plan, and planStack checks the plan against IAM's quotas (permissionBudget.ts)
// before anything is registered. Pure; documents that name the cluster's ARN are rendered with it,
// or, for sizing, with a placeholder of its length.

import * as fs from "fs";
import * as path from "path";
import { serializePolicy, type PolicyDocument } from "../domain/trustPolicy";
import { CHAIN_PAGE, chainLayout, chainPageDocument, TARGET_ROLES_POLICY, targetRolesPolicy, type ChainTarget } from "./chaining";
import { controlPlaneComponents, type AdminRoleMode, type AlbController } from "./controllers";
import { INLINE_POLICIES_MAX_CHARS, permissionProblems, type RolePermissions } from "./permissionBudget";
import { partitionOf } from "./names";
import { type RoleNames } from "./placement";
import { eksClusterArn } from "./podIdentityTrust";

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

/** What decides the roles' permission policies (a subset of KubeflowRolesArgs). */
export interface PermissionArgs {
    names: RoleNames;
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

/** A policy of the plan; `render` fills in the cluster's ARN (ignored by policies that name none). */
export interface PlannedPolicy {
    name: string;
    render: (clusterArn: string) => PolicyDocument;
}

/** A customer managed policy of chained profiles (see chaining.ts): created before the pages in `after` change. */
export interface PlannedPage extends PlannedPolicy {
    index: number;
    after: number[];
}

export interface RolePlan {
    role: string;
    inline: PlannedPolicy[];
    pages: PlannedPage[];
    attachedArns: string[];
}

/** An ARN of exactly the length of the cluster's (account IDs are 12 digits), for sizing before the account is known. */
export const sizingClusterArn = (region: string, clusterName: string) => eksClusterArn(partitionOf(region), region, "000000000000", clusterName);

export function permissionPlan(args: PermissionArgs): RolePlan[] {
    const partition = partitionOf(args.region);
    const vars: PolicyVariables = { partition, region: args.region, cluster: args.clusterName, ...(args.profileBucket ? { bucket: args.profileBucket } : {}) };
    const reviewed = (name: string): PlannedPolicy => ({ name, render: (clusterArn) => JSON.parse(loadPolicy(name, { ...vars, clusterArn })) as PolicyDocument });
    const components = controlPlaneComponents(args);
    const plans: RolePlan[] = [
        { role: args.names.admin, inline: args.adminRoleMode === "shared" ? components.map((c) => reviewed(c.policy)) : [], pages: [], attachedArns: [] },
        ...args.names.controllers.map(({ component, name }) => ({ role: name, inline: [reviewed(component.policy)], pages: [], attachedArns: [] })),
    ];
    const sizing = sizingClusterArn(args.region, args.clusterName);
    const targets = args.chainTargets ?? [];
    for (const role of [...args.names.users, ...args.names.drainingUsers]) {
        // Each Pod Identity session carries its namespace and cluster as tags: one policy isolates every team.
        const inline = args.profileBucket ? [reviewed("profile-bucket")] : [];
        const pages: PlannedPage[] = [];
        if (targets.length > 0) {
            const budget = INLINE_POLICIES_MAX_CHARS - inline.reduce((sum, p) => sum + serializePolicy(p.render(sizing)).length, 0);
            const layout = chainLayout(targets, sizing, partition, budget);
            if (layout.kind === "exact") inline.push({ name: TARGET_ROLES_POLICY, render: (clusterArn) => targetRolesPolicy(targets, clusterArn) });
            else {
                for (const page of layout.pages) {
                    pages.push({ name: `${role}-${CHAIN_PAGE}-${page.index}`, index: page.index, after: page.after, render: (clusterArn) => chainPageDocument(targets.filter((t) => page.namespaces.includes(t.namespace)), clusterArn, partition) });
                }
            }
        }
        plans.push({ role, inline, pages, attachedArns: args.userPolicyArns });
    }
    return plans;
}

/** The plan of one role as IAM would receive it, for `clusterArn`. */
export function renderedPermissions(plan: RolePlan, clusterArn: string): RolePermissions {
    return {
        role: plan.role,
        inline: plan.inline.map((p) => ({ name: p.name, document: p.render(clusterArn) })),
        managed: plan.pages.map((p) => ({ name: p.name, document: p.render(clusterArn) })),
        attachedArns: plan.attachedArns,
    };
}

/** What IAM would refuse of the plan, per role (see permissionBudget.ts). */
export function permissionPlanProblems(args: PermissionArgs): string[] {
    const sizing = sizingClusterArn(args.region, args.clusterName);
    return permissionPlan(args).flatMap((plan) => permissionProblems(renderedPermissions(plan, sizing)));
}
