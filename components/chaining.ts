// EKS Pod Identity role chaining (an association's targetRoleArn): the policies on both ends.
// Pure: the program attaches the first, synth prints the second for the target account's owners.

import { POLICY_VERSION, type PolicyDocument, type PolicyStatement } from "../providers/trustPolicy";

export const TARGET_ROLES_POLICY = "assume-target-roles";

/**
 * What the role an association names needs to chain to its target roles in other accounts: the
 * target's trust policy must allow it too (targetTrustPolicy).
 */
export function targetRolesPolicy(targetRoleArns: readonly string[]): PolicyDocument {
    return {
        Version: POLICY_VERSION,
        Statement: [{ Sid: "ChainToTargetRoles", Effect: "Allow", Action: ["sts:AssumeRole", "sts:TagSession"], Resource: [...targetRoleArns] }],
    };
}

/**
 * The statement a target role in another account needs for one association: the association's
 * role may assume it, only with the association's external id (EKS passes it as sts:ExternalId).
 */
export function targetTrustStatement(sourceRoleArn: string, externalId: string): PolicyStatement {
    return {
        Sid: "EksPodIdentityChain",
        Effect: "Allow",
        Principal: { AWS: sourceRoleArn },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: { StringEquals: { "sts:ExternalId": externalId } },
    };
}

