// Which awsIamRole ARNs of the config are roles this stack creates, by the one rule of role
// identity (domain/subjects.ts: account plus case-insensitive name, paths ignored as IAM does),
// and what a profile may not ask of them. Pure functions: planStack calls them before anything is
// registered, so a refusal fails `pulumi preview`.

import { inAccount, roleIdentity, sameRole } from "../domain/subjects";
import type { StackConfig } from "./config";
import { allRoleNames, roleNames, shardNumber, type RoleConfig } from "./placement";

type ProfilesConfig = RoleConfig & Pick<StackConfig, "profiles">;

/**
 * Whether an awsIamRole ARN has the name of a role this stack creates, or may create (a kf-user
 * shard at any count). Whether it is that role depends on its account: the stack's roles are in
 * the account the stack deploys to, and a role of that name elsewhere is another role.
 */
export function namesStackRole(config: RoleConfig, shards: number, ref: string): boolean {
    // A managed name may be over IAM's 64 characters here, which roleNameProblems reports: fold its case by hand.
    const managed = new Set(allRoleNames(roleNames(config, shards)).map((n) => roleIdentity(n)?.name ?? n.toLowerCase()));
    const name = roleIdentity(ref)?.name;
    return name !== undefined && (managed.has(name) || shardNumber(config, name) !== undefined);
}

/**
 * Whether placement needs the account the stack deploys to: some awsIamRole ARN has the name of a
 * stack role (namesStackRole; a kf-user shard's name at any count, so the count may be left out).
 */
export function needsAccount(config: StackConfig, shards = 1): boolean {
    return config.profiles.some((p) => p.awsIamRole !== undefined && namesStackRole(config, shards, p.awsIamRole));
}

/**
 * Profiles whose awsIamRole has the name of a stack role while the account the stack deploys to is
 * not known (KubeflowIrsa used without accountId). The ARN may be that role — whose trust its one
 * TrustSubjects writes — or another account's: taken for another role, it would get a second
 * TrustSubjects on the same role, whose read-modify-writes undo each other's in one `up`.
 */
export function unknownAccountProblems(config: ProfilesConfig, shards: number, account: string | undefined): string[] {
    if (account !== undefined) return [];
    return config.profiles.flatMap((p, index) =>
        p.awsIamRole !== undefined && namesStackRole(config, shards, p.awsIamRole)
            ? [
                  `kubeflow-irsa:profiles[${index}].awsIamRole: ${JSON.stringify(p.awsIamRole)} has the name of a role this stack creates, and the account the stack deploys to is not known, ` +
                      "so it cannot tell whether the ARN is that role (trusted through the role's own TrustSubjects) or a role of that name in another account; " +
                      "pass accountId to KubeflowIrsa: the account the stack's AWS credentials deploy to, which `await deployerAccount(config)` asks STS for (as index.ts does; " +
                      "if STS answered without one, check the stack's AWS credentials)",
              ]
            : [],
    );
}

/**
 * A profile may not use a component's own role (perController) in the deploying account: that role
 * is trusted only by its component's service accounts, and a team's pods would get load-balancer or
 * logging rights. A role of that name in another account is another role, and allowed.
 */
export function componentRoleProblems(config: ProfilesConfig, account: string | undefined): string[] {
    const own = roleNames(config, 1).controllers;
    return config.profiles.flatMap((p, index) => {
        const arn = p.awsIamRole;
        const component = arn !== undefined && account !== undefined ? own.find((c) => sameRole(arn, c.name, account))?.component : undefined;
        return component
            ? [
                  `kubeflow-irsa:profiles[${index}].awsIamRole: ${JSON.stringify(arn)} is the ${component.title}'s own role (adminRoleMode perController), which only its service accounts may assume; give the profile a role of its own, or leave awsIamRole out for kf-user`,
              ]
            : [];
    });
}

/**
 * Profiles whose awsIamRole is a kf-user shard the stack does not create at this count
 * (`kf-user-<region>-<cluster>-<n>`, n ≥ userRoleShards) in the deploying account: that role exists
 * only while the count covers it, or while it drains, so pinning a team to it would leave the
 * team's trust on a role the stack deletes. A role of that name in another account is another role.
 */
export function pinnedShardProblems(config: ProfilesConfig, shards: number, account: string | undefined): string[] {
    return config.profiles.flatMap((p, index) => {
        const name = p.awsIamRole !== undefined && account !== undefined && inAccount(p.awsIamRole, account) ? roleIdentity(p.awsIamRole)?.name : undefined;
        const n = name === undefined ? undefined : shardNumber(config, name);
        return n !== undefined && n >= shards
            ? [
                  `kubeflow-irsa:profiles[${index}].awsIamRole: ${JSON.stringify(p.awsIamRole)} is kf-user shard ${n}, which this stack creates only while kubeflow-irsa:userRoleShards is above ${n} (it is ${shards}); ` +
                      `leave awsIamRole out to let placement choose a kf-user shard, or set userRoleShards to ${n + 1}`,
              ]
            : [];
    });
}
