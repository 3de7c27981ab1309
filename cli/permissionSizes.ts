// Every role's permission policies against IAM's quotas, as `npm run synth` shows them beside the
// trust-policy quota: the inline policies together, each managed policy the stack creates, and the
// number attached. The figures and limits are components/permissionBudget.ts's, which the program
// checks before anything is registered.

import { permissionSizes, type PermissionSizes } from "../components/permissionBudget";
import type { PolicyDocument } from "../domain/trustPolicy";

export type { PermissionSizes };

export interface RolePolicies {
    role: string;
    /** The inline policies, as IAM receives them. */
    permissionPolicies: { name: string; document: PolicyDocument }[];
    /** The customer managed policies the stack creates and attaches to the role. */
    managedPolicies: { name: string; document: PolicyDocument }[];
    /** Every managed policy ARN attached (the stack's own and userPolicyArns). */
    managedPolicyArns: string[];
}

export function sizesOf(r: RolePolicies): PermissionSizes {
    const sizes = permissionSizes({ role: r.role, inline: r.permissionPolicies, managed: r.managedPolicies, attachedArns: [] });
    return { ...sizes, attached: r.managedPolicyArns.length };
}

/** `ROLE  INLINE / 10240  MANAGED POLICIES  ATTACHED / 10`, one row per role; nothing without roles. */
export function permissionTable(roles: readonly RolePolicies[]): string[] {
    if (roles.length === 0) return [];
    const sizes = roles.map(sizesOf);
    const rows = [
        ["ROLE", "INLINE CHARS / QUOTA", "OWN MANAGED POLICIES (CHARS / 6144 EACH)", "ATTACHED / QUOTA"],
        ...sizes.map((s) => [
            s.role,
            `${s.inlineChars} / ${s.inlineLimit}`,
            s.managed.length === 0 ? "-" : `${s.managed.length}: largest ${Math.max(...s.managed.map((m) => m.chars))}`,
            `${s.attached} / ${s.attachedLimit}`,
        ]),
    ];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return [
        "Permission policies (IAM: inline policies together 10,240 characters per role, a managed policy 6,144, 10 managed policies per role; white space not counted):",
        ...rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ").trimEnd()),
    ];
}
