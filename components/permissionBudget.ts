// IAM's quotas on a role's permission policies, and what each role of the stack would hold
// against them. Pure: the program checks them before anything is registered (a preview fails
// with the role, the size, the limit and the fix, instead of `up` failing with LimitExceeded half
// way), and synth shows every role's figures beside the trust-policy quota.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html

import { policySize, type PolicyDocument } from "../domain/trustPolicy";

/** A role's inline policies together, white space not counted ("Role policy size"). */
export const INLINE_POLICIES_MAX_CHARS = 10_240;
/** One customer managed policy, white space not counted ("Managed policy size"). */
export const MANAGED_POLICY_MAX_CHARS = 6_144;
/** Managed policies attached to one role: 10 by default ("Managed policies per role", adjustable to 20). */
export const MANAGED_POLICIES_PER_ROLE = 10;

/** What the stack puts on one role: its inline policies, its own managed policies, and ARNs it attaches. */
export interface RolePermissions {
    role: string;
    inline: { name: string; document: PolicyDocument }[];
    /** Customer managed policies the stack creates for the role. */
    managed: { name: string; document: PolicyDocument }[];
    /** Other managed policies attached to the role (kubeflow-irsa:userPolicyArns). */
    attachedArns: readonly string[];
}

export interface PermissionSizes {
    role: string;
    /** Characters of all inline policies together, as IAM counts them. */
    inlineChars: number;
    inlineLimit: number;
    /** Each managed policy the stack creates, by name, in characters. */
    managed: { name: string; chars: number }[];
    managedLimit: number;
    /** Managed policies attached to the role (created by the stack or given). */
    attached: number;
    attachedLimit: number;
}

export function permissionSizes(p: RolePermissions): PermissionSizes {
    return {
        role: p.role,
        inlineChars: p.inline.reduce((sum, i) => sum + policySize(i.document), 0),
        inlineLimit: INLINE_POLICIES_MAX_CHARS,
        managed: p.managed.map((m) => ({ name: m.name, chars: policySize(m.document) })),
        managedLimit: MANAGED_POLICY_MAX_CHARS,
        attached: p.managed.length + p.attachedArns.length,
        attachedLimit: MANAGED_POLICIES_PER_ROLE,
    };
}

/** What IAM would refuse, one message per quota a role exceeds, each naming the fix. */
export function permissionProblems(p: RolePermissions): string[] {
    const sizes = permissionSizes(p);
    const problems: string[] = [];
    if (sizes.inlineChars > sizes.inlineLimit) {
        const parts = p.inline.map((i) => `${i.name} ${policySize(i.document)}`).join(", ");
        problems.push(
            `role "${p.role}": its inline policies would total ${sizes.inlineChars} characters (${parts}), over IAM's ${sizes.inlineLimit} per role (white space not counted); ` +
                "IAM refuses the policy that crosses it (LimitExceeded): turn off what the role does not need (enableFsx, profileBucket) or use adminRoleMode perController (one role per component)",
        );
    }
    for (const m of sizes.managed.filter((x) => x.chars > sizes.managedLimit)) {
        problems.push(`role "${p.role}": its managed policy ${m.name} would be ${m.chars} characters, over IAM's ${sizes.managedLimit} per managed policy; give fewer profiles an awsIamRole of another account`);
    }
    if (sizes.attached > sizes.attachedLimit) {
        problems.push(
            `role "${p.role}": ${sizes.attached} managed policies would be attached (${p.managed.length} for chained profiles, ${p.attachedArns.length} from kubeflow-irsa:userPolicyArns), ` +
                `over IAM's default quota of ${sizes.attachedLimit} per role; remove some of kubeflow-irsa:userPolicyArns, or give fewer profiles an awsIamRole of another account`,
        );
    }
    return problems;
}
