// summary.json of `npm run synth` (cli/synth.ts): its shape, what it says of a Synthesis (roles,
// files, phase, findings, issuer), and the comparison with the previous run's summary in the same
// directory (namespaces added and removed, profiles moved to another role).

import * as fs from "node:fs";
import * as path from "node:path";
import { apiServerFlags } from "../components/issuerDocuments";
import { roleFindings, type RoleFinding } from "./findings";
import { sizesOf, type PermissionSizes } from "./permissionSizes";
import { AFTER_KUBEFLOW_FILE, ISSUER_DIR, KUBERNETES_FILE, PERMISSION_DIR, POD_IDENTITY_FILE, SUMMARY_FILE, TRUST_DIR } from "./synthFiles";
import { metadataOf, objectCounts, type KubernetesObject } from "./synthKubernetes";
import { byName, placeholderNote, str, type PodIdentityBinding, type RoleTrust, type Synthesis } from "./synthStack";
import { parseRoleRef, roleKey, roleNameOf } from "../domain/subjects";

/** The two-phase first `up`: Profile CRs only once Kubeflow (and its Profile CRD) is installed. */
export const KUBEFLOW_INSTALLED_KEY = "kubeflow-irsa:kubeflowInstalled";
/** false (the default): a profile removed from config keeps its Profile and namespace (retainOnDelete). */
export const DELETE_REMOVED_PROFILES_KEY = "kubeflow-irsa:deleteRemovedProfiles";
export const BEFORE_KUBEFLOW = "before Kubeflow";
export const AFTER_KUBEFLOW = "after Kubeflow";
export type Phase = typeof BEFORE_KUBEFLOW | typeof AFTER_KUBEFLOW;

export const RETAINED_NOTE = "retained in the cluster: Profile and namespace stay, IAM trust removed";
export const DELETED_NOTE = "deleted: Kubeflow deletes the namespace and everything in it";

export const OWNED_STATEMENT_NOTE = "statement owned by this stack (the role's other statements are kept as they are)";

export interface SummaryRole {
    role: string;
    arn: string;
    managed: boolean;
    scope: RoleTrust["scope"];
    binding: RoleTrust["binding"];
    note?: string;
    file: string;
    subjects: string[];
    chars: number;
    limit: number;
    headroom: number;
    inlinePolicies: string[];
    managedPolicyArns: string[];
    /** Each inline policy's file (in inlinePolicies' order), then each managed policy the stack creates. */
    permissionPolicies: { name: string; file: string }[];
    /** Against IAM's quotas on permission policies (cli/permissionSizes.ts). */
    permissions: PermissionSizes;
}

export interface ObjectRef {
    kind: string;
    name: string;
    namespace?: string;
    /** A server-side-apply patch: `up` sets only the fields the YAML lists, on an object it does not own. */
    patch?: true;
}

/** Namespaces added to and removed from the config since the previous synth in the same directory. */
export interface ProfileChanges {
    /** The summary compared with (relative to the output directory). */
    comparedWith: string;
    newNamespaces: string[];
    removedFromConfig: string[];
    /** What `up` does with a removed profile's Profile and namespace (kubeflow-irsa:deleteRemovedProfiles). */
    removedProfiles: "retained" | "deleted";
    /**
     * Profiles whose role changed (userRoleShards, awsIamRole): after `up` the old role keeps
     * trusting them ("draining") until kubeflow-irsa:finishMoves finishes the move ("finished").
     */
    moves: { profile: string; from: string; to: string; oldRole: "draining" | "finished" }[];
    note: string;
}

/** What this synth knows beyond the one evaluation: the phase, and the previous run's profiles. */
export interface SynthContext {
    phase: Phase;
    /**
     * Before Kubeflow: the objects the program evaluated with kubeflowInstalled true registers
     * beyond this evaluation's (the Profiles and the ServiceAccount patches).
     */
    afterKubeflow?: KubernetesObject[];
    changes?: ProfileChanges;
}

export interface Summary {
    project: string;
    stack: string;
    region: string;
    clusterName: string;
    identityMode: string;
    oidcProviderArn?: string;
    placeholderAccount: string;
    note: string;
    /** before Kubeflow: kubeflow-irsa:kubeflowInstalled is false, so `up` registers no Profile CRs yet (see afterKubeflow). */
    phase: Phase;
    /** Configured profiles: a profile's name is its namespace. */
    profiles: { name: string; namespace: string; roleArn: string }[];
    roles: SummaryRole[];
    kubernetes: { file: string; objects: ObjectRef[] };
    afterKubeflow?: { configKey: string; file: string; note: string; objects: ObjectRef[] };
    changes?: ProfileChanges;
    podIdentityAssociations?: { file: string; associations: PodIdentityBinding[] };
    /** What the trust-policy rules find in the synthesized trust policies (a mandatory one fails synth). */
    findings: RoleFinding[];
    /** A self-managed cluster's issuer the stack hosts: its URL, the documents, and the API server flags. */
    hostedIssuer?: { url: string; files: string[]; apiServerFlags: string[] };
    /** Encrypted config values the run went without (nothing written depends on them). */
    unknownConfig?: string[];
}

/**
 * The trust-policy rules over every trust policy the stack would write, each against its role's
 * quota. For a role the stack does not create, that is the statement it owns.
 */
export function synthesisFindings(synthesis: Synthesis): RoleFinding[] {
    return synthesis.roles.filter((r) => r.binding === "irsa").flatMap((r) => roleFindings(r.role, r.document, { maxPolicyChars: r.limit }));
}

/** `<role>`; a role this stack does not create is `<account>-<role>` (a name may recur across accounts). */
const roleStem = (r: RoleTrust) => (r.managed ? r.role : `${parseRoleRef(r.arn)?.accountId ?? "unknown"}-${r.role}`);
export const trustFile = (r: RoleTrust) => `${TRUST_DIR}/${roleStem(r)}.json`;
/** `permission-policies/<role>/<policy>.json`: the role's directory is named as its trust policy's file. */
export const permissionFile = (r: RoleTrust, policy: string) => `${PERMISSION_DIR}/${roleStem(r)}/${policy}.json`;

const refOf = (o: KubernetesObject): ObjectRef => {
    const { namespace, name } = metadataOf(o);
    return { kind: str(o.object.kind), name, ...(namespace ? { namespace } : {}), ...(o.patch ? { patch: true as const } : {}) };
};

export const afterKubeflowNote = (objects: KubernetesObject[]) =>
    `${objectCounts(objects)}: what \`up\` adds once ${KUBEFLOW_INSTALLED_KEY} is true (after Kubeflow and its Profile CRD are installed)`;

export function summaryOf(synthesis: Synthesis, context: SynthContext = { phase: AFTER_KUBEFLOW }): Summary {
    return {
        project: synthesis.project,
        stack: synthesis.stack,
        region: synthesis.region,
        clusterName: synthesis.clusterName,
        identityMode: synthesis.identityMode,
        ...(synthesis.oidcProviderArn ? { oidcProviderArn: synthesis.oidcProviderArn } : {}),
        placeholderAccount: synthesis.placeholderAccount,
        note: placeholderNote(synthesis.placeholderAccount, synthesis.accountFromConfig),
        phase: context.phase,
        profiles: synthesis.profiles.map((p) => ({ name: p.name, namespace: p.name, roleArn: p.roleArn })),
        roles: synthesis.roles.map((r) => ({
            role: r.role,
            arn: r.arn,
            managed: r.managed,
            scope: r.scope,
            binding: r.binding,
            ...(r.scope === "owned-statement" ? { note: `${OWNED_STATEMENT_NOTE}; chars counts that statement only, so headroom is an upper bound` } : {}),
            file: trustFile(r),
            subjects: r.subjects,
            chars: r.chars,
            limit: r.limit,
            headroom: r.headroom,
            inlinePolicies: r.inlinePolicies,
            managedPolicyArns: r.managedPolicyArns,
            permissionPolicies: [...r.permissionPolicies, ...r.managedPolicies].map((p) => ({ name: p.name, file: permissionFile(r, p.name) })),
            permissions: sizesOf(r),
        })),
        kubernetes: { file: KUBERNETES_FILE, objects: synthesis.kubernetes.map(refOf) },
        ...(context.afterKubeflow
            ? {
                  afterKubeflow: {
                      configKey: KUBEFLOW_INSTALLED_KEY,
                      file: AFTER_KUBEFLOW_FILE,
                      note: afterKubeflowNote(context.afterKubeflow),
                      objects: context.afterKubeflow.map(refOf),
                  },
              }
            : {}),
        ...(context.changes ? { changes: context.changes } : {}),
        findings: synthesisFindings(synthesis),
        ...(synthesis.hostedIssuerUrl
            ? { hostedIssuer: { url: synthesis.hostedIssuerUrl, files: [...synthesis.issuerDocuments.keys()].map((k) => `${ISSUER_DIR}/${k}`), apiServerFlags: apiServerFlags(synthesis.hostedIssuerUrl) } }
            : {}),
        ...(synthesis.podIdentityAssociations.length > 0
            ? { podIdentityAssociations: { file: POD_IDENTITY_FILE, associations: synthesis.podIdentityAssociations } }
            : {}),
        ...(synthesis.unknownConfig.length > 0 ? { unknownConfig: synthesis.unknownConfig } : {}),
    };
}

/** The previous run's summary in `outDir`, if it is one of this stack's (anything unreadable counts as none). */
export function readPreviousSummary(outDir: string, project: string, stack: string): Summary | undefined {
    try {
        const summary = JSON.parse(fs.readFileSync(path.join(outDir, SUMMARY_FILE), "utf8")) as Summary;
        return summary.project === project && summary.stack === stack ? summary : undefined;
    } catch {
        return undefined;
    }
}

/** The namespaces (profile names) a summary lists; summaries before `profiles` existed list the Profile objects. */
function namespacesOf(summary: Summary): string[] {
    if (Array.isArray(summary.profiles)) return summary.profiles.map((p) => p.name);
    const objects = [...(summary.kubernetes?.objects ?? []), ...(summary.afterKubeflow?.objects ?? [])];
    return [...new Set(objects.filter((o) => o.kind === "Profile").map((o) => o.name))];
}

/** What changed in the profile list since `previous`, and what `up` does to the removed ones. */
export function profileChanges(previous: Summary, synthesis: Synthesis, deleteRemovedProfiles: boolean, finishMoves: boolean | string[] = false): ProfileChanges {
    const before = new Set(namespacesOf(previous));
    const now = new Set(synthesis.profiles.map((p) => p.name));
    const removedProfiles = deleteRemovedProfiles ? "deleted" : "retained";
    const previousRole = new Map((Array.isArray(previous.profiles) ? previous.profiles : []).map((p) => [p.name, p.roleArn]));
    const finished = (name: string) => finishMoves === true || (Array.isArray(finishMoves) && finishMoves.includes(name));
    const moves = synthesis.profiles
        .filter((p) => previousRole.has(p.name) && previousRole.get(p.name) !== "" && p.roleArn !== "" && roleKey(previousRole.get(p.name)!) !== roleKey(p.roleArn))
        .map((p) => ({ profile: p.name, from: previousRole.get(p.name)!, to: p.roleArn, oldRole: finished(p.name) ? ("finished" as const) : ("draining" as const) }))
        .sort((a, b) => byName(a.profile, b.profile));
    return {
        comparedWith: `the previous ${SUMMARY_FILE}`,
        newNamespaces: [...now].filter((n) => !before.has(n)).sort(byName),
        removedFromConfig: [...before].filter((n) => !now.has(n)).sort(byName),
        removedProfiles,
        moves,
        note: `${DELETE_REMOVED_PROFILES_KEY} is ${deleteRemovedProfiles}: a profile removed from config is ${deleteRemovedProfiles ? DELETED_NOTE : RETAINED_NOTE}`,
    };
}

/** The stdout lines of a comparison; a rename shows as one new namespace and one removed. */
export function changeLines(changes: ProfileChanges): string[] {
    const moves = changes.moves ?? [];
    if (changes.newNamespaces.length === 0 && changes.removedFromConfig.length === 0 && moves.length === 0) {
        return [`Profiles: unchanged since ${changes.comparedWith}.`];
    }
    const lines = [`Since ${changes.comparedWith}:`];
    if (changes.newNamespaces.length > 0) lines.push(`  new namespaces: ${changes.newNamespaces.join(", ")}`);
    if (changes.removedFromConfig.length > 0) {
        lines.push(`  removed from config: ${changes.removedFromConfig.join(", ")} (${changes.removedProfiles === "deleted" ? DELETED_NOTE : RETAINED_NOTE})`);
    }
    for (const m of moves) {
        const old = roleNameOf(m.from);
        lines.push(
            m.oldRole === "draining"
                ? `  moved: ${m.profile} ${old} → ${roleNameOf(m.to)} (draining: after up ${old} keeps trusting it, for pods started before; restart them when convenient, then finish the move with kubeflow-irsa:finishMoves)`
                : `  moved: ${m.profile} ${old} → ${roleNameOf(m.to)} (finishMoves: up removes it from ${old}; pods started before the move lose their credentials)`,
        );
    }
    return lines;
}
