// Which role each profile's `default-editor` gets, which subjects each role's trust policy then
// holds, and whether that fits the ACLSizePerRole quota. Pure functions: the program calls them
// before registering anything, so capacity problems fail `pulumi preview`, not half an `up`.

import { buildTrustPolicy, parsePolicyDocument, policySize, presentSubjects, LIST_ITEM_OVERHEAD, MAX_POLICY_CHARS_LIMIT } from "../domain/trustPolicy";
import { trustedOidcProviders } from "../domain/policyReading";
import { ANCHOR_NAMESPACE, anchorSubject, inAccount, issuerHostPath, parseOidcProviderArn, ROLE_NAME_MAX, roleIdentity, roleKey, roleNameOf, sameRole, subjectOf, subjectOfRef } from "../domain/subjects";
import { MAX_USER_ROLE_SHARDS, type StackConfig } from "./config";
import { componentRoleName, controlPlaneComponents, type ControlPlaneComponent } from "./controllers";
import { partitionOf } from "./names";
import { autoPlacement, rendezvousShardsNeeded, shardOf, type ShardItem, type ShardPlacement } from "./shardPlacement";

/**
 * The subject every project-created role's trust statement keeps, so that the trust policy stays
 * non-empty when no profile uses the role (removing the last profile never fails). No pod can
 * hold it (see ANCHOR_NAMESPACE): kfctl's anchors `kubeflow:kf-admin` and `kubeflow:kf-user` were
 * live grants, and a stack deployed with them moves to these in one write per role.
 */
export const ANCHOR_SUBJECTS = {
    admin: anchorSubject("kf-admin"),
    user: anchorSubject("kf-user"),
};

export interface RoleNames {
    admin: string;
    /** kf-user and its shards: index 0 is `kf-user-<region>-<cluster>`, index n its `-n` replica. */
    users: string[];
    /**
     * Shards beyond userRoleShards that still exist (a lowered count) and still drain moved
     * profiles: kept, with no profile of their own, until finishMoves (see drainingShardsOf).
     */
    drainingUsers: string[];
    /** The components' own roles (adminRoleMode perController), `kf-<short>-<region>-<cluster>`; none in shared mode. */
    controllers: { component: ControlPlaneComponent; name: string }[];
}

export type RoleConfig = Pick<StackConfig, "region" | "clusterName" | "adminRoleMode" | "albController" | "enableFsx">;

/** The components with a role of their own: every one in perController mode, none in shared mode. */
export function ownRoleComponents(config: Pick<StackConfig, "adminRoleMode" | "albController" | "enableFsx">): ControlPlaneComponent[] {
    return config.adminRoleMode === "perController" ? controlPlaneComponents(config) : [];
}

/** `kf-admin-<region>-<cluster>`, `kf-user-<region>-<cluster>`, `kf-user-<region>-<cluster>-<n>` and the components' roles. */
export function roleNames(config: RoleConfig, shards: number, drainingShards: readonly number[] = []): RoleNames {
    const { region, clusterName } = config;
    const user = userRoleName(config);
    return {
        admin: `kf-admin-${region}-${clusterName}`,
        users: Array.from({ length: shards }, (_, i) => (i === 0 ? user : `${user}-${i}`)),
        drainingUsers: [...new Set(drainingShards)].filter((i) => i >= shards).sort((a, b) => a - b).map((i) => `${user}-${i}`),
        controllers: ownRoleComponents(config).map((component) => ({ component, name: componentRoleName(component, region, clusterName) })),
    };
}

/** `kf-user-<region>-<cluster>`: shard 0, and the stem of the others' names (`…-<n>`). */
export function userRoleName(config: Pick<StackConfig, "region" | "clusterName">): string {
    return `kf-user-${config.region}-${config.clusterName}`;
}

/**
 * The shard numbers among existing role names (IAM's answer for this cluster's kf-user stem)
 * that the current count does not cover: shards a lowered userRoleShards left, which may still
 * trust profiles that moved away from them.
 */
export function drainingShardsOf(config: Pick<StackConfig, "region" | "clusterName">, shards: number, existing: readonly string[]): number[] {
    return existing
        .map((name) => shardNumber(config, name))
        .filter((i): i is number => i !== undefined && i >= shards)
        .sort((a, b) => a - b);
}

/** The n of a role named `kf-user-<region>-<cluster>-<n>` (n ≥ 1, IAM names fold case); undefined for any other name. */
export function shardNumber(config: Pick<StackConfig, "region" | "clusterName">, roleName: string): number | undefined {
    const stem = `${userRoleName(config).toLowerCase()}-`;
    const name = roleName.toLowerCase();
    return name.startsWith(stem) && /^[1-9]\d*$/.test(name.slice(stem.length)) ? Number(name.slice(stem.length)) : undefined;
}

/** A role as IAM reports it (`aws.iam.getRole`): its trust policy and tags. */
export interface ExistingRole {
    name: string;
    assumeRolePolicy: string;
    tags: Record<string, string>;
}

/** The tags of every role the stack creates (see KubeflowRoles). */
export function roleTags(config: Pick<StackConfig, "clusterName">): Record<string, string> {
    return { "kubeflow-irsa/cluster": config.clusterName, "managed-by": "kubeflow-irsa" };
}

/**
 * Whether a kf-user shard beyond the count still drains and must stay registered: it still trusts
 * a subject that is not an anchor — a moved profile's running pods may hold its ARN. A shard left
 * with its anchor alone (every move finished, also by a finishMoves list) drains nothing, and the
 * program lets it go; so does a role that a lagging ListRoles still shows after finishMoves
 * deleted it. A trust policy that cannot be read is kept: deleting is what cannot be undone.
 * A role that drains but lacks the stack's tags (roleTags) is a problem, not a guess: it may be
 * someone else's role of that name, or the stack's with its tags hidden (aws:ignoreTags) or
 * rewritten — taking it would claim a stranger's role, dropping it would let the engine delete a
 * role that running pods use.
 */
export function shardDrains(config: Pick<StackConfig, "clusterName" | "userRoleShards">, role: ExistingRole): boolean | { problem: string } {
    let drains = true;
    try {
        const document = parsePolicyDocument(role.assumeRolePolicy);
        const notAnchor = (subject: string) => subject.split(":")[2] !== ANCHOR_NAMESPACE;
        drains = trustedOidcProviders(document).some((provider) => presentSubjects(document, provider).some(notAnchor));
    } catch {
        // unreadable: kept
    }
    if (!drains) return false;
    const tags = roleTags(config);
    const wrong = Object.entries(tags).filter(([key, value]) => role.tags[key] !== value);
    if (wrong.length === 0) return true;
    return {
        problem:
            `role "${role.name}" is named like a kf-user shard beyond kubeflow-irsa:userRoleShards (${config.userRoleShards}) and still trusts service accounts, ` +
            `but does not carry this stack's tags (${wrong.map(([key, value]) => `${key}: ${value}`).join(", ")}), so the program can neither keep it as the stack's nor let it be deleted. ` +
            "If it is this stack's, restore its tags (and keep kubeflow-irsa/ and managed-by out of aws:ignoreTags); if it is not, rename it: the stack uses that name when userRoleShards grows",
    };
}

/** Every role name of the plan: kf-admin, the components' roles, kf-user and its shards (draining ones too). */
export function allRoleNames(names: RoleNames): string[] {
    return [names.admin, ...names.controllers.map((c) => c.name), ...names.users, ...names.drainingUsers];
}

/** Role names over IAM's 64-character limit at `shards` kf-user roles, as config problems. */
export function roleNameProblems(config: RoleConfig, shards: number): string[] {
    const names = roleNames(config, shards);
    const longest = allRoleNames(names).reduce((a, b) => (b.length > a.length ? b : a));
    if (longest.length <= ROLE_NAME_MAX) return [];
    const room = config.clusterName.length - (longest.length - ROLE_NAME_MAX);
    return [
        `kubeflow-irsa:clusterName: ${JSON.stringify(config.clusterName)} makes the role name "${longest}" ${longest.length} characters, ` +
            `over IAM's limit of ${ROLE_NAME_MAX}; use a cluster name of at most ${Math.max(room, 0)} characters in ${config.region}` +
            (shards > 1 ? ` with ${shards} shards` : ""),
    ];
}

/** One role whose trust subjects this stack owns. */
export interface TrustGroup {
    /** Stable and unique per role: the name of a managed role; `<account>-<lower-case name>` otherwise. */
    key: string;
    roleName: string;
    /** Created by this stack (kf-admin, kf-user or a shard); otherwise given as `awsIamRole`. */
    managed: boolean;
    /** The ARN as configured, for roles this stack does not manage. */
    roleArn?: string;
    /** The subject every managed role keeps (see ANCHOR_SUBJECTS). */
    anchor?: string;
    /** Owned subjects, sorted. */
    subjects: string[];
    /** Profile names whose `default-editor` uses this role. */
    profiles: string[];
}

export interface TrustPlan {
    names: RoleNames;
    /** By role name, in a stable order: kf-admin, kf-user shards, then other roles by name. */
    groups: TrustGroup[];
    /** Profile name → the role it uses: its group, and for a role this stack does not create the awsIamRole ARN as configured. */
    profileRoles: Map<string, { key: string; roleName: string; managed: boolean; roleArn?: string }>;
}

/**
 * The account the stack's roles are created in, when the config alone tells it: the IAM OIDC
 * provider of an existing cluster lives in the roles' account (a trust policy can only federate a
 * provider of its own account). Otherwise the program asks AWS (see deployerAccount).
 */
export function accountFromConfig(config: Pick<StackConfig, "existingCluster">): string | undefined {
    const arn = config.existingCluster?.oidcProviderArn;
    return arn ? parseOidcProviderArn(arn)?.accountId : undefined;
}

/**
 * Groups owned subjects per role: one TrustSubjects resource, one read-modify-write, per role.
 * An awsIamRole ARN is the role this stack creates only when it is that role (sameRole: same name,
 * any path, in the account the stack deploys to, `account`); its profiles then use the role's own
 * ARN. An ARN of another account is used as configured. The caller refuses an ARN with a managed
 * role's name when the account is not known (namesStackRole).
 */
export function planTrust(config: StackConfig, shards?: number | ShardPlacement, account?: string, drainingShards: readonly number[] = []): TrustPlan {
    const placed = typeof shards === "number" ? rendezvousPlacement(config, shards) : (shards ?? userShards(config, account));
    const names = roleNames(config, placed.shards, drainingShards);
    const groups = new Map<string, TrustGroup>();
    const group = (key: string, roleName: string, managed: boolean, anchor?: string, roleArn?: string): TrustGroup => {
        let g = groups.get(key);
        if (!g) {
            g = { key, roleName, managed, subjects: [], profiles: [], ...(anchor ? { anchor } : {}), ...(roleArn ? { roleArn } : {}) };
            groups.set(key, g);
        }
        return g;
    };
    const admin = group(names.admin, names.admin, true, ANCHOR_SUBJECTS.admin);
    for (const { component, name } of names.controllers) {
        // A component's role is its accounts' alone: the first is its anchor (it keeps the trust
        // policy non-empty), the others are owned subjects.
        const [anchor, ...rest] = component.serviceAccounts.map((ref) => subjectOfRef(ref));
        group(name, name, true, anchor).subjects.push(...rest);
    }
    names.users.forEach((name) => group(name, name, true, ANCHOR_SUBJECTS.user));
    // No profile is placed on a draining shard: its TrustSubjects keeps what drains (providers/moves.ts).
    names.drainingUsers.forEach((name) => group(name, name, true, ANCHOR_SUBJECTS.user));
    admin.subjects.push(...config.adminServiceAccounts.map(subjectOfRef));
    // One rule for role identity (sameRole): case-insensitive names, paths ignored, accounts kept apart.
    const managedNames = [...groups.keys()];
    const profileRoles: TrustPlan["profileRoles"] = new Map();
    for (const profile of config.profiles) {
        const arn = profile.awsIamRole;
        const managed = arn !== undefined && account !== undefined ? managedNames.find((n) => sameRole(arn, n, account)) : undefined;
        let g: TrustGroup;
        if (arn === undefined) {
            g = groups.get(names.users[placed.shardOf.get(profile.name)!])!;
        } else if (managed !== undefined) {
            g = groups.get(managed)!;
        } else {
            // Keyed by the role's identity (account and case-folded name; the key is in resource
            // names, so its `<account>-<name>` form stays).
            const id = roleIdentity(arn)!;
            g = group(`${id.accountId}-${id.name}`, roleNameOf(arn), false, undefined, arn);
        }
        g.subjects.push(...profileSubjects(profile));
        g.profiles.push(profile.name);
        // A role of this stack is named by its own ARN (the group's); another by the ARN as configured.
        profileRoles.set(profile.name, { key: g.key, roleName: g.roleName, managed: g.managed, ...(!g.managed && arn ? { roleArn: arn } : {}) });
    }
    for (const g of groups.values()) {
        g.subjects = [...new Set(g.subjects.filter((s) => s !== g.anchor))].sort();
    }
    const ordered = [...groups.values()].sort((a, b) => Number(b.managed) - Number(a.managed) || (a.managed ? 0 : a.roleName.localeCompare(b.roleName)));
    return { names, groups: ordered, profileRoles };
}

/** The subjects of a profile: each of its service accounts in its namespace. */
export function profileSubjects(profile: Pick<StackConfig["profiles"][number], "name" | "serviceAccounts">): string[] {
    return profile.serviceAccounts.map((sa) => subjectOf(profile.name, sa));
}

/**
 * podIdentity: profiles whose awsIamRole is in another account than the stack's roles (an
 * association can name only a role of the cluster's account). Each gets an association to kf-user
 * that chains to its role (`targetRoleArn`). Profile name → the role ARN as configured. Without a
 * known account, none (the ARN is associated as configured).
 */
export function podIdentityTargets(config: Pick<StackConfig, "identityMode" | "profiles">, account?: string): Map<string, string> {
    if (config.identityMode !== "podIdentity" || account === undefined) return new Map();
    return new Map(
        config.profiles.filter((p) => p.awsIamRole !== undefined && !inAccount(p.awsIamRole, account)).map((p) => [p.name, p.awsIamRole!]),
    );
}

/**
 * The OIDC provider ARN, or one of exactly its length when it is not known before `up` (a new
 * cluster's issuer ID is 32 hexadecimal characters), for sizing trust policies at preview.
 */
export function providerArnForSizing(config: StackConfig): string {
    const existing = config.existingCluster;
    if (existing?.oidcProviderArn) return existing.oidcProviderArn;
    const issuer = existing ? issuerHostPath(existing.oidcIssuerUrl) : `oidc.eks.${config.region}.amazonaws.com/id/${"0".repeat(32)}`;
    return `arn:${partitionOf(config.region)}:iam::000000000000:oidc-provider/${issuer}`;
}

/** Characters of a managed role's trust policy after `up`: the anchor statement plus the owned subjects. */
export function managedPolicySize(providerArn: string, group: Pick<TrustGroup, "anchor" | "subjects">): number {
    const base = policySize(buildTrustPolicy(providerArn, [group.anchor ?? group.subjects[0]]));
    const rest = group.anchor ? group.subjects : group.subjects.slice(1);
    return base + rest.reduce((sum, s) => sum + s.length + LIST_ITEM_OVERHEAD, 0);
}

/**
 * The kf-user shard count and each profile's shard (profiles without awsIamRole): one role in
 * podIdentity mode (no trust policy grows); an explicit userRoleShards by rendezvous hashing, as
 * always; `auto` by rendezvous with bounded loads, at the count that fits (./shardPlacement).
 */
export function userShards(config: StackConfig, account?: string): ShardPlacement {
    if (config.identityMode === "podIdentity") return rendezvousPlacement(config, 1);
    if (config.userRoleShards !== "auto") return rendezvousPlacement(config, config.userRoleShards);
    const { free, pinned, room } = userShardLoad(config, config.trustPolicyMaxChars, account);
    return autoPlacement(free, pinned, room);
}

/** Each profile without awsIamRole on its rendezvous shard among `shards`. */
function rendezvousPlacement(config: Pick<StackConfig, "profiles">, shards: number): ShardPlacement {
    const shardOfProfile = new Map(config.profiles.filter((p) => !p.awsIamRole).map((p) => [p.name, shardOf(p.name, shards)]));
    return { shards, shardOf: shardOfProfile, unplaced: [] };
}

/**
 * What kf-user placement works with at `maxChars`: the profiles without awsIamRole and the
 * characters their subjects add to a trust policy; the characters on each shard of profiles whose
 * awsIamRole names it (only known with the account); and a shard's room for subjects besides
 * its anchor.
 */
function userShardLoad(config: StackConfig, maxChars: number, account?: string): { free: ShardItem[]; pinned: Map<number, number>; room: number } {
    const base = managedPolicySize(providerArnForSizing(config), { anchor: ANCHOR_SUBJECTS.user, subjects: [] });
    const cost = (profile: StackConfig["profiles"][number]) => profileSubjects(profile).reduce((sum, s) => sum + s.length + LIST_ITEM_OVERHEAD, 0);
    const names = account ? roleNames(config, MAX_USER_ROLE_SHARDS).users.map((n) => roleKey(n, account)) : [];
    const pinned = new Map<number, number>();
    const free: ShardItem[] = [];
    for (const profile of config.profiles) {
        if (!profile.awsIamRole) {
            free.push({ name: profile.name, cost: cost(profile) });
            continue;
        }
        const index = names.indexOf(roleKey(profile.awsIamRole));
        if (index >= 0) pinned.set(index, (pinned.get(index) ?? 0) + cost(profile));
    }
    return { free, pinned, room: maxChars - base };
}

/**
 * The smallest explicit shard count from `from` on at which every kf-user shard fits `maxChars`
 * under rendezvous hashing, or undefined when none up to MAX_USER_ROLE_SHARDS does.
 */
export function shardsNeeded(config: StackConfig, maxChars: number, from = 1, account?: string): number | undefined {
    const { free, pinned, room } = userShardLoad(config, maxChars, account);
    return rendezvousShardsNeeded(free, pinned, room, from);
}

/** The count `auto` picks at `maxChars`, or undefined when no count up to MAX_USER_ROLE_SHARDS fits. */
export function autoShardsNeeded(config: StackConfig, maxChars: number, account?: string): number | undefined {
    const { free, pinned, room } = userShardLoad(config, maxChars, account);
    const placed = autoPlacement(free, pinned, room);
    return placed.unplaced.length === 0 ? placed.shards : undefined;
}

/**
 * Capacity problems of the plan's managed roles (exact sizes; roles this stack does not manage are
 * measured against their live policy by the provider at preview).
 */
export function capacityProblems(config: StackConfig, plan: TrustPlan, account?: string): string[] {
    const providerArn = providerArnForSizing(config);
    const limit = config.trustPolicyMaxChars;
    const problems: string[] = [];
    // The counts a fix names are the same for every over-full shard: placed once, when first needed.
    const counts = new Map<string, number | undefined>();
    const once = (key: string, count: () => number | undefined) => (counts.has(key) ? counts.get(key) : counts.set(key, count()).get(key));
    for (const g of plan.groups.filter((g) => g.managed)) {
        const size = managedPolicySize(providerArn, g);
        if (size <= limit) continue;
        const isUser = plan.names.users.includes(g.roleName);
        let fix: string;
        if (isUser) {
            fix = userCapacityFix(config, g, limit, once, account);
        } else {
            fix = "move some of its profiles to kf-user (remove their awsIamRole) or trust fewer service accounts";
        }
        problems.push(
            `role "${g.roleName}": its trust policy would be ${size} characters with ${g.subjects.length + (g.anchor ? 1 : 0)} subjects, ` +
                `over kubeflow-irsa:trustPolicyMaxChars (${limit}); ${fix}`,
        );
    }
    return problems;
}

/**
 * How to make an over-full kf-user shard fit: the count that fits, explicit and with `auto`, or what
 * no count helps. `once` computes each count a single time for all the shards of one check.
 */
function userCapacityFix(
    config: StackConfig,
    group: TrustGroup,
    limit: number,
    once: (key: string, count: () => number | undefined) => number | undefined,
    account?: string,
): string {
    const countAt = (maxChars: number) =>
        config.userRoleShards === "auto" ? once(`auto ${maxChars}`, () => autoShardsNeeded(config, maxChars, account)) : once(`explicit ${maxChars}`, () => shardsNeeded(config, maxChars, 1, account));
    const atMax = limit < MAX_POLICY_CHARS_LIMIT ? countAt(MAX_POLICY_CHARS_LIMIT) : undefined;
    const raise = atMax
        ? `raise the account's "Role trust policy length" quota (Service Quotas, IAM, code L-C07B4B0D) to ${MAX_POLICY_CHARS_LIMIT} and set kubeflow-irsa:trustPolicyMaxChars: ${MAX_POLICY_CHARS_LIMIT} (then ${atMax} shard${atMax > 1 ? "s" : ""} fit)`
        : undefined;
    const { free, room } = userShardLoad(config, limit, account);
    const alone = free.find((p) => group.profiles.includes(p.name) && p.cost > room);
    if (alone) {
        return `profile "${alone.name}" alone needs ${alone.cost} characters of subjects, more than a role holds besides its anchor (${room}); give it an awsIamRole of its own, or fewer serviceAccounts` + (raise ? `, or ${raise}` : "");
    }
    if (config.userRoleShards === "auto") {
        return "give some profiles an awsIamRole of their own, or take the awsIamRole that names this role off some" + (raise ? `, or ${raise}` : "");
    }
    const shards = config.userRoleShards;
    const atLimit = once(`explicit ${limit} from ${shards + 1}`, () => shardsNeeded(config, limit, shards + 1, account));
    const auto = once(`auto ${limit}`, () => autoShardsNeeded(config, limit, account));
    if (!atLimit) return "give some profiles an awsIamRole of their own" + (raise ? `, or ${raise}` : "");
    return (
        `set kubeflow-irsa:userRoleShards to ${atLimit}` +
        (auto ? `, or to auto (${auto} shard${auto > 1 ? "s" : ""} fit now, and the stack picks the count as profiles come and go: see the README, "Scaling past one role's quota")` : "") +
        (raise ? `, or ${raise}` : "")
    );
}
