#!/usr/bin/env -S node --require ts-node/register/transpile-only
// `npm run synth -- --stack <name> [--out <dir>]`: what `pulumi up` of a stack would put in IAM and
// Kubernetes, offline. The real program (index.ts) runs under Pulumi's mock runtime with the
// stack's config (cli/evaluate.ts); everything written here is derived from the resources it
// registered, through the same trust-policy algebra the TrustSubjects provider applies at `up`.
// Nothing about placement, sharding or naming is re-implemented here.
//
// Writes, under --out (default synth.out/<stack>/):
//   trust-policies/<role>.json      trust policy per role the stack manages or edits, pretty-printed
//                                   for review and diff (its size is counted minified, as IAM does)
//   permission-policies/<role>/<policy>.json
//                                   each inline permission policy (aws.iam.RolePolicy) the stack
//                                   puts on a role, as sent to IAM, pretty-printed
//   kubernetes.yaml                 the Kubernetes objects (Profile CRs, ServiceAccount patches) as
//                                   applied; a patch is headed by a `# Patch` comment
//   kubernetes-after-kubeflow.yaml  before Kubeflow (kubeflowInstalled false): the objects the
//                                   second `up`, with kubeflowInstalled true, adds (Profiles, and
//                                   patches annotating a profile's other service accounts)
//   pod-identity-associations.yaml  the EKS Pod Identity associations (podIdentity mode)
//   summary.json                    per role: subjects, characters used, quota, headroom; the
//                                   phase; profiles added and removed since the previous synth
// and prints a summary table.
//
// The trust-policy rules (analysis/trustRules.ts) run over every synthesized trust policy; their
// findings are printed and in summary.json.
//
// Exit codes: 0 written; 1 unexpected failure (a bug: printed with its stack); 2 bad usage or a
// stack that `pulumi preview` would reject (the program's own message, or a mandatory rule
// finding, as with the policy pack: the files are then still written). A failed run removes the
// files an earlier run wrote to the output directory, so they cannot pass for this one's.

import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { ConfigValues, RecordedResource, StackModel } from "./evaluate";
import { targetTrustStatement } from "../components/chaining";
import { clusterArnOfRole } from "../components/podIdentityTrust";
import { permissionTable, sizesOf, type PermissionSizes } from "./permissionSizes";
import { apiServerFlags } from "../components/issuerDocuments";
import { findingLines, hasMandatory, roleFindings, type RoleFinding } from "./findings";
import { isMandatory } from "../analysis/trustRules";
import { muteNodeVersionSupportWarning } from "./outputHygiene";
import {
    AFTER_KUBEFLOW_FILE,
    KUBERNETES_FILE,
    PERMISSION_DIR,
    POD_IDENTITY_FILE,
    removePreviousOutput,
    TARGET_TRUST_DIR,
    ISSUER_DIR,
    SUMMARY_FILE,
    TRUST_DIR,
    writeFiles,
} from "./synthFiles";
import { addedObjects, kubernetesObjects, kubernetesYaml, metadataOf, objectCounts, qualifiedName, yamlDocuments, type KubernetesObject } from "./synthKubernetes";
import { parseRoleRef, roleKey, roleNameOf, subjectOf } from "../domain/subjects";
import { createChanges } from "../providers/ownership";
import { applyTrustChanges } from "../domain/trustChanges";
import {
    buildTrustPolicy,
    parsePolicyDocument,
    policySize,
    presentSubjects,
    type PolicyDocument,
} from "../domain/trustPolicy";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_INVALID = 2;

export const POD_IDENTITY_TYPE = "aws:eks/podIdentityAssociation:PodIdentityAssociation";
const ROLE_POLICY_TYPE = "aws:iam/rolePolicy:RolePolicy";
const ROLE_POLICY_ATTACHMENT_TYPE = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
const MANAGED_POLICY_TYPE = "aws:iam/policy:Policy";

export { TRUST_DIR, PERMISSION_DIR, KUBERNETES_FILE, AFTER_KUBEFLOW_FILE, POD_IDENTITY_FILE, SUMMARY_FILE, writeFiles, removePreviousOutput };
export type { KubernetesObject };

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

export function placeholderNote(account: string, fromConfig = false): string {
    if (fromConfig) return `ARNs of resources this stack creates carry account ${account}, the account the config names (kubeflow-irsa:existingCluster.oidcProviderArn, or an awsIamRole ARN with the name of a stack role)`;
    return `ARNs of resources this stack creates carry the placeholder account ${account}; ` + "`pulumi up` uses the deploying account's ID (ARNs taken from the stack's config are as configured)";
}

/**
 * The program's side: the evaluator and the TrustSubjects provider's own checks. Loaded on first
 * use, after the command line has picked the TypeScript loader (see the end of this file): they
 * bring in the Pulumi SDK and, through index.ts, the whole program.
 */
function program() {
    /* eslint-disable @typescript-eslint/no-require-imports */
    return {
        ...(require("./evaluate") as typeof import("./evaluate")),
        ...(require("./configOverrides") as typeof import("./configOverrides")),
        ...(require("./stackFiles") as typeof import("./stackFiles")),
        ...(require("../providers/trustSubjects") as typeof import("../providers/trustSubjects")),
        PROJECT: (require("../components/config") as typeof import("../components/config")).PROJECT,
    };
    /* eslint-enable @typescript-eslint/no-require-imports */
}

/** Where the CLI writes; `process` fits, and tests pass collectors. */
export interface SynthIo {
    stdout: { write(text: string): unknown };
    stderr: { write(text: string): unknown };
}

const help = (configHelp: string, account: string) => `Usage:
  npm run synth -- --stack <name> [--out <dir>] [--project-dir <dir>] [--config key=value ...]

Runs the program offline (Pulumi mock runtime; no AWS, no Pulumi CLI) with Pulumi.yaml and
Pulumi.<stack>.yaml, and writes what \`pulumi up\` would apply:
  ${TRUST_DIR}/<role>.json  the trust policy each role the stack creates has after \`up\`
      (pretty-printed; sizes count it minified, as IAM does); for a role it only edits (a
      profile's awsIamRole), ${TRUST_DIR}/<account>-<role>.json with just the statement it owns
  ${PERMISSION_DIR}/<role>/<policy>.json  each inline permission policy the stack puts on
      a role it creates, as sent to IAM (pretty-printed)
  ${KUBERNETES_FILE}  the Kubernetes objects as applied (multi-document YAML): Profiles, and
      the ServiceAccount patches that annotate a profile's other service accounts (IRSA)
  ${AFTER_KUBEFLOW_FILE}  while ${KUBEFLOW_INSTALLED_KEY} is false: the objects
      the \`up\` after setting it to true adds (the program evaluated a second time)
  ${POD_IDENTITY_FILE}  the EKS Pod Identity associations (identityMode podIdentity)
  ${ISSUER_DIR}/.well-known/openid-configuration and ${ISSUER_DIR}/keys.json  a self-managed
      cluster's issuer documents, as the stack hosts them (note the hidden .well-known/)
  ${SUMMARY_FILE}  per role: subjects, characters used, quota, headroom; the phase; the
      namespaces added and removed since the previous synth in the same directory
and prints the summary table.
${placeholderNote(account)}.

Options:
  --stack <name>        the stack (Pulumi.<name>.yaml)
  --out <dir>           output directory (default synth.out/<stack>)
  --project-dir <dir>   where Pulumi.yaml is (default: this project)
${configHelp}
  -h, --help            this text

Every trust policy is checked with the trust-policy rules (the policy pack's, see policy/);
findings are printed and in ${SUMMARY_FILE}.

Exit codes: 0 written; 1 unexpected failure; 2 bad usage or configuration, or a mandatory rule
finding (the files are written). On failure the files an earlier run wrote to the output
directory are removed (stderr says so).
`;

/** A failure `pulumi preview` would also report, or bad usage: message only, exit 2. */
export class SynthError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "SynthError";
    }
}

// ---------------------------------------------------------------------------------------------
// What the stack would apply

export interface RoleTrust {
    role: string;
    /** The role's ARN (the placeholder account for roles this stack creates). */
    arn: string;
    /** Created by this stack; otherwise a role given as `awsIamRole` whose trust policy it edits. */
    managed: boolean;
    /** `policy`: the whole trust policy after `up`; `owned-statement`: only what this stack owns. */
    scope: "policy" | "owned-statement";
    /** How service accounts reach the role: web identity (IRSA) or Pod Identity associations. */
    binding: "irsa" | "podIdentity";
    /** Service-account subjects that can assume the role through this stack. */
    subjects: string[];
    document: PolicyDocument;
    chars: number;
    limit: number;
    headroom: number;
    /** Inline policy names and managed policy ARNs this stack puts on the role. */
    inlinePolicies: string[];
    managedPolicyArns: string[];
    /** The inline policies (aws.iam.RolePolicy) as sent to IAM, by name. */
    permissionPolicies: PermissionPolicy[];
    /** The customer managed policies the stack creates for the role (chained profiles' pages). */
    managedPolicies: PermissionPolicy[];
}

export interface PermissionPolicy {
    name: string;
    document: PolicyDocument;
}

export interface PodIdentityBinding {
    name: string;
    clusterName: string;
    namespace: string;
    serviceAccount: string;
    roleArn: string;
    /** Whether the role is created by this stack (otherwise it must already trust pods.eks.amazonaws.com). */
    roleManaged: boolean;
    /** A role of another account EKS chains to from `roleArn`; its trust policy must allow that (target-role-trust/). */
    targetRoleArn?: string;
}

export interface Synthesis {
    project: string;
    /** The configured profiles (name = namespace) and the role each one's default-editor gets. */
    profiles: { name: string; roleArn: string }[];
    /** The account of the ARNs the mock runtime made up. */
    placeholderAccount: string;
    /** Whether that account is the config's (existingCluster.oidcProviderArn), not the placeholder. */
    accountFromConfig: boolean;
    stack: string;
    region: string;
    clusterName: string;
    identityMode: string;
    oidcProviderArn?: string;
    roles: RoleTrust[];
    kubernetes: KubernetesObject[];
    podIdentityAssociations: PodIdentityBinding[];
    /** A self-managed cluster's issuer: object key in its bucket → content (discovery document, JWKS). */
    issuerDocuments: Map<string, string>;
    /** The issuer URL the stack hosts, when it hosts one. */
    hostedIssuerUrl?: string;
    /** Encrypted config values not known offline, which nothing here depends on: a note each. */
    unknownConfig: string[];
}

const ofType = (resources: RecordedResource[], type: string) => resources.filter((r) => r.type === type);
const str = (value: unknown): string => (typeof value === "string" ? value : "");
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The provider's own `check` on each TrustSubjects resource, as `pulumi preview` runs it: a
 * failure there (an owned statement over quota, a bad subject) fails the preview.
 */
function checkFailures(trusts: RecordedResource[], checkInputs: ReturnType<typeof program>["checkInputs"]): string[] {
    const problems: string[] = [];
    for (const trust of trusts) {
        for (const failure of checkInputs(trust.inputs).failures) {
            problems.push(`TrustSubjects resource '${trust.name}': property ${failure.property} has a problem: ${failure.reason}`);
        }
    }
    return problems;
}

/**
 * Roles in the program's own order: kf-admin, the components' own roles (adminRoleMode
 * perController), the kf-user shards, then other roles by name.
 */
function roleOrder(model: StackModel): (a: RoleTrust, b: RoleTrust) => number {
    const outputs = model.run.outputs;
    const controllers = typeof outputs.controllerRoleArns === "object" && outputs.controllerRoleArns !== null ? Object.values(outputs.controllerRoleArns) : [];
    const users = Array.isArray(outputs.kfUserRoleArns) ? outputs.kfUserRoleArns : [];
    const exported = [...new Set([outputs.kfAdminRoleArn, ...controllers, ...users].map((arn) => roleNameOf(str(arn))))];
    const rank = (r: RoleTrust) => {
        const i = exported.indexOf(r.role);
        return i >= 0 ? i : exported.length + (r.managed ? 0 : 1);
    };
    return (a, b) => rank(a) - rank(b) || byName(a.role, b.role);
}

/** A RolePolicy's `policy`: the JSON text IAM receives. */
function permissionDocument(policy: RecordedResource): PolicyDocument {
    const text = policy.inputs.policy;
    try {
        const document = (typeof text === "string" ? JSON.parse(text) : text) as unknown;
        if (typeof document === "object" && document !== null && !Array.isArray(document)) return document as PolicyDocument;
    } catch {
        // reported below
    }
    throw new Error(`RolePolicy '${policy.name}': its policy is not a JSON policy document: ${String(text).slice(0, 80)}`);
}

/**
 * What `up` would apply, from the resources the program registered. Throws SynthError with the
 * messages `pulumi preview` or `up` would give when the TrustSubjects provider would refuse.
 */
export function synthesize(model: StackModel): Synthesis {
    const { PROJECT, ROLE_TYPE, TRUST_SUBJECTS_TYPE, checkInputs, quotaProblem } = program();
    const account = model.account;
    const resources = model.run.resources;
    const outputs = model.run.outputs;
    const identityMode = model.config.identityMode;
    const stackProvider = typeof outputs.oidcProviderArn === "string" ? outputs.oidcProviderArn : undefined;
    const trusts = ofType(resources, TRUST_SUBJECTS_TYPE);
    const problems = checkFailures(trusts, checkInputs);
    if (problems.length > 0) throw new SynthError(problems.join("\n"));

    // One entry per real role, by the project's one rule of role identity (account and
    // case-folded name); the stack's own roles are in the stack's account (or the placeholder).
    const keyOf = (ref: string) => roleKey(ref, account);
    const roleResources = new Map(ofType(resources, ROLE_TYPE).map((r) => [keyOf(str(r.inputs.name)), r]));
    const trustsByRole = new Map<string, RecordedResource[]>();
    for (const trust of trusts) {
        const key = keyOf(str(trust.inputs.role));
        trustsByRole.set(key, [...(trustsByRole.get(key) ?? []), trust]);
    }
    const associations: PodIdentityBinding[] = ofType(resources, POD_IDENTITY_TYPE)
        .map((r) => ({
            name: r.name,
            clusterName: str(r.inputs.clusterName),
            namespace: str(r.inputs.namespace),
            serviceAccount: str(r.inputs.serviceAccount),
            roleArn: str(r.inputs.roleArn),
            roleManaged: roleResources.has(keyOf(str(r.inputs.roleArn))),
            ...(str(r.inputs.targetRoleArn) ? { targetRoleArn: str(r.inputs.targetRoleArn) } : {}),
        }))
        .sort((a, b) => byName(a.namespace, b.namespace) || byName(a.serviceAccount, b.serviceAccount));
    // A policy's `role` is the role's name (or ARN), resolved: the same key as the role's.
    const policiesOf = (key: string) => {
        const inline = ofType(resources, ROLE_POLICY_TYPE)
            .filter((p) => keyOf(str(p.inputs.role)) === key)
            .map((p) => ({ name: str(p.inputs.name), document: permissionDocument(p) }))
            .sort((a, b) => byName(a.name, b.name));
        const managedPolicyArns = ofType(resources, ROLE_POLICY_ATTACHMENT_TYPE).filter((p) => keyOf(str(p.inputs.role)) === key).map((p) => str(p.inputs.policyArn)).sort();
        const own = ofType(resources, MANAGED_POLICY_TYPE).filter((p) => managedPolicyArns.includes(str(p.state.arn)));
        return { inlinePolicies: inline.map((p) => p.name), managedPolicyArns, permissionPolicies: inline, managedPolicies: own.map((p) => ({ name: str(p.inputs.name), document: permissionDocument(p) })) };
    };

    const roles: RoleTrust[] = [];
    for (const [key, resource] of roleResources) {
        const role = str(resource.inputs.name);
        // The role as created, then what each TrustSubjects resource does to the live document at `up`.
        let document = parsePolicyDocument(str(resource.inputs.assumeRolePolicy));
        const edits = trustsByRole.get(key) ?? [];
        let limit = model.config.trustPolicyMaxChars;
        const edited: { providerArn: string; subjects: string[] }[] = [];
        for (const trust of edits) {
            // The provider's own create: its owned statements, subjects and anchors, its retirements.
            const { inputs } = checkInputs(trust.inputs);
            document = applyTrustChanges(document, createChanges(inputs)).document;
            if (typeof trust.inputs.maxPolicyChars === "number") limit = trust.inputs.maxPolicyChars;
            if (inputs.providerArn) edited.push({ providerArn: inputs.providerArn, subjects: inputs.subjects });
        }
        for (const { providerArn, subjects } of edited) {
            const problem = quotaProblem(role, document, { maxPolicyChars: limit, subjects, providerArn });
            if (problem) problems.push(problem);
        }
        const podIdentity = associations.filter((a) => keyOf(a.roleArn) === key);
        const providers = [...new Set([...edited.map((e) => e.providerArn), ...(stackProvider ? [stackProvider] : [])])];
        const subjects =
            identityMode === "podIdentity"
                ? podIdentity.map((a) => subjectOf(a.namespace, a.serviceAccount))
                : providers.flatMap((p) => presentSubjects(document, p));
        const chars = policySize(document);
        roles.push({
            role,
            arn: str(resource.state.arn) || `arn:aws:iam::${account}:role/${role}`,
            managed: true,
            scope: "policy",
            binding: identityMode === "podIdentity" ? "podIdentity" : "irsa",
            subjects: [...new Set(subjects)].sort(),
            document,
            chars,
            limit,
            headroom: limit - chars,
            ...policiesOf(key),
        });
    }
    for (const [key, edits] of trustsByRole) {
        if (roleResources.has(key)) continue;
        const role = roleNameOf(str(edits[0].inputs.role));
        // Not this stack's role: only the statement it owns is known offline.
        const providerArn = str(edits[0].inputs.providerArn);
        const subjects = [...new Set(edits.flatMap((t) => (t.inputs.subjects ?? []) as string[]))].sort();
        const limit = edits.map((t) => t.inputs.maxPolicyChars).find((n): n is number => typeof n === "number") ?? model.config.trustPolicyMaxChars;
        const document = buildTrustPolicy(providerArn, subjects);
        const chars = policySize(document);
        roles.push({
            role,
            arn: str(edits[0].inputs.role),
            managed: false,
            scope: "owned-statement",
            binding: "irsa",
            subjects,
            document,
            chars,
            limit,
            headroom: limit - chars,
            ...policiesOf(key),
        });
    }
    if (problems.length > 0) throw new SynthError(problems.join("\n"));
    roles.sort(roleOrder(model));

    return {
        project: PROJECT,
        profiles: model.profiles.map((p) => ({ name: p.name, roleArn: p.roleArn })),
        placeholderAccount: account,
        accountFromConfig: model.accountFromConfig,
        stack: model.stack,
        region: model.region,
        clusterName: str(outputs.clusterName) || model.config.clusterName,
        identityMode,
        ...(stackProvider ? { oidcProviderArn: stackProvider } : {}),
        roles,
        kubernetes: kubernetesObjects(resources),
        podIdentityAssociations: associations,
        issuerDocuments: new Map(ofType(resources, "aws:s3/bucketObjectv2:BucketObjectv2").map((o) => [str(o.inputs.key), str(o.inputs.content)])),
        ...(model.config.existingCluster?.selfManaged ? { hostedIssuerUrl: model.config.existingCluster.oidcIssuerUrl } : {}),
        unknownConfig: model.unknownConfig.map((u) => u.note),
    };
}

// ---------------------------------------------------------------------------------------------
// Files

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
const trustFile = (r: RoleTrust) => `${TRUST_DIR}/${roleStem(r)}.json`;
/** `permission-policies/<role>/<policy>.json`: the role's directory is named as its trust policy's file. */
const permissionFile = (r: RoleTrust, policy: string) => `${PERMISSION_DIR}/${roleStem(r)}/${policy}.json`;

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

/**
 * A policy as written for review: 2-space indented, one subject (or action) per line, so two
 * synths diff line by line. IAM does not count white space; the quota figures are of the
 * minified form.
 */
export function prettyPolicy(document: PolicyDocument): string {
    return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * For each role of another account a Pod Identity association chains to, the trust policy it needs:
 * one statement per association (each has its own external id, known once `up` created it:
 * `pulumi stack output podIdentityExternalIds`).
 */
export function targetTrustFiles(synthesis: Synthesis): Map<string, PolicyDocument> {
    const byTarget = new Map<string, PodIdentityBinding[]>();
    for (const a of synthesis.podIdentityAssociations.filter((x) => x.targetRoleArn)) byTarget.set(a.targetRoleArn!, [...(byTarget.get(a.targetRoleArn!) ?? []), a]);
    const files = new Map<string, PolicyDocument>();
    for (const [target, associations] of [...byTarget].sort(([a], [b]) => byName(a, b))) {
        const ref = parseRoleRef(target);
        const statements = associations.map((a, i) => ({
            ...targetTrustStatement(a.roleArn, `<externalId of ${a.namespace}/${a.serviceAccount}: pulumi stack output podIdentityExternalIds>`, clusterArnOfRole(a.roleArn, synthesis.region, a.clusterName), a.namespace, a.serviceAccount),
            Sid: `EksPodIdentity${i}`,
        }));
        files.set(`${TARGET_TRUST_DIR}/${ref?.accountId ?? "unknown"}-${ref?.name ?? "role"}.json`, { Version: "2012-10-17", Statement: statements });
    }
    return files;
}

/** The files of a synthesis, by path relative to the output directory. */
export function renderFiles(synthesis: Synthesis, context: SynthContext = { phase: AFTER_KUBEFLOW }): Map<string, string> {
    const files = new Map<string, string>();
    for (const role of synthesis.roles) {
        files.set(trustFile(role), prettyPolicy(role.document));
        for (const policy of [...role.permissionPolicies, ...role.managedPolicies]) files.set(permissionFile(role, policy.name), prettyPolicy(policy.document));
    }
    const source = `Generated offline by \`npm run synth -- --stack ${synthesis.stack}\` (${synthesis.project}) from the program's registered resources.`;
    const placeholders = `${placeholderNote(synthesis.placeholderAccount, synthesis.accountFromConfig)}.`;
    files.set(
        KUBERNETES_FILE,
        kubernetesYaml([`Kubernetes objects stack "${synthesis.stack}" applies with \`pulumi up\`.`, source, placeholders], synthesis.kubernetes),
    );
    if (context.afterKubeflow) {
        files.set(
            AFTER_KUBEFLOW_FILE,
            kubernetesYaml(
                [
                    `Kubernetes objects stack "${synthesis.stack}" adds with the \`up\` after \`pulumi config set ${KUBEFLOW_INSTALLED_KEY} true\``,
                    "(once Kubeflow and its Profile CRD are installed): the program evaluated a second time with that override.",
                    source,
                    placeholders,
                ],
                context.afterKubeflow,
            ),
        );
    }
    if (synthesis.podIdentityAssociations.length > 0) {
        files.set(
            POD_IDENTITY_FILE,
            yamlDocuments(
                [
                    `EKS Pod Identity associations stack "${synthesis.stack}" creates through the EKS API with \`pulumi up\` (aws.eks.PodIdentityAssociation).`,
                    "These are not Kubernetes objects: do not apply them with kubectl. One association per service account.",
                    source,
                    placeholders,
                ],
                synthesis.podIdentityAssociations.map(({ name, clusterName, namespace, serviceAccount, roleArn, targetRoleArn }) => ({
                    body: { name, clusterName, namespace, serviceAccount, roleArn, ...(targetRoleArn ? { targetRoleArn } : {}) },
                })),
            ),
        );
    }
    for (const [file, document] of targetTrustFiles(synthesis)) files.set(file, prettyPolicy(document));
    for (const [key, content] of synthesis.issuerDocuments) files.set(`${ISSUER_DIR}/${key}`, content);
    files.set(SUMMARY_FILE, `${JSON.stringify(summaryOf(synthesis, context), null, 2)}\n`);
    return files;
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

// ---------------------------------------------------------------------------------------------
// Table

function table(rows: string[][], rightAligned: number[]): string {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return rows
        .map((r) => r.map((cell, i) => (rightAligned.includes(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ").trimEnd())
        .join("\n");
}

export function summaryTable(synthesis: Synthesis): string {
    const lines: string[] = [];
    if (synthesis.roles.length === 0) {
        lines.push("No IAM roles: the stack manages no IAM (kubeflow-irsa:enablePodIamPolicy is false).");
    } else {
        const rows = [["ROLE", "SUBJECTS", "CHARS / QUOTA", "HEADROOM"]];
        for (const r of synthesis.roles) {
            const external = r.scope === "owned-statement";
            rows.push([
                external ? `${r.role} *` : r.role,
                String(r.subjects.length),
                `${r.chars} / ${r.limit}`,
                external ? `≤ ${r.headroom}` : String(r.headroom),
            ]);
        }
        lines.push(table(rows, [1, 2, 3]));
        if (synthesis.roles.some((r) => r.scope === "owned-statement")) {
            lines.push(`* not managed by this stack: ${OWNED_STATEMENT_NOTE}; its characters only, so the role's real headroom is at most this.`);
        }
        if (synthesis.identityMode === "podIdentity") {
            lines.push("Pod Identity: trust policies are fixed (pods.eks.amazonaws.com); SUBJECTS counts the service accounts associated with each role.");
        }
        lines.push(...permissionTable(synthesis.roles.filter((r) => r.managed)));
    }
    const targets = [...targetTrustFiles(synthesis).keys()];
    if (targets.length > 0) {
        lines.push(`Chained to roles of other accounts: each must trust its association's role with the association's external id, as ${targets.join(", ")} say.`);
    }
    const unmanaged = [...new Set(synthesis.podIdentityAssociations.filter((a) => !a.roleManaged).map((a) => roleNameOf(a.roleArn)))];
    if (unmanaged.length > 0) {
        lines.push(`Associated but not managed by this stack (their trust policies must allow pods.eks.amazonaws.com, pinned with aws:RequestTag/eks-cluster-arn): ${unmanaged.join(", ")}`);
    }
    return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Command line

interface Flags {
    stack?: string;
    out?: string;
    projectDir?: string;
    config: string[];
    help: boolean;
}

function parseFlags(argv: string[]): Flags {
    let values;
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                stack: { type: "string" },
                out: { type: "string" },
                "project-dir": { type: "string" },
                config: { type: "string", multiple: true },
                help: { type: "boolean", short: "h" },
            },
            strict: true,
            allowPositionals: false,
        }));
    } catch (err) {
        throw new SynthError(`${(err as Error).message}; run with --help for usage`);
    }
    return { stack: values.stack, out: values.out, projectDir: values["project-dir"], config: values.config ?? [], help: values.help ?? false };
}

const isConfigError = (err: unknown): err is Error => err instanceof Error && err.name === "ConfigError";

const shown = (dir: string) => {
    const relative = path.relative(process.cwd(), dir);
    return relative === "" ? "." : relative.startsWith("..") ? dir : relative;
};

/** The phase lines of the stdout summary. */
function phaseLines(context: SynthContext, objects: string): string[] {
    if (!context.afterKubeflow) {
        return [`Phase: ${AFTER_KUBEFLOW} (${KUBEFLOW_INSTALLED_KEY} is true): \`up\` applies the roles above and ${KUBERNETES_FILE} (${objects}).`];
    }
    const profiles = context.afterKubeflow.filter((o) => !o.patch && o.object.kind === "Profile").map(qualifiedName);
    const patches = context.afterKubeflow.filter((o) => o.patch);
    return [
        `Phase: ${BEFORE_KUBEFLOW} (${KUBEFLOW_INSTALLED_KEY} is false): \`up\` applies the roles above and ${KUBERNETES_FILE} (${objects}).`,
        `After Kubeflow is installed, \`pulumi config set ${KUBEFLOW_INSTALLED_KEY} true\` and \`up\` apply ${profiles.length} Profile(s)` +
            (profiles.length > 0 ? `: ${profiles.join(", ")}` : "") +
            (patches.length > 0 ? `, and ${objectCounts(patches)}: ${patches.map(qualifiedName).join(", ")}` : "") +
            ` (${AFTER_KUBEFLOW_FILE}).`,
    ];
}

/** Runs the command; returns the exit code. Writes only through `io` and to the output directory. */
export async function main(argv: string[], io: SynthIo): Promise<number> {
    const started = Date.now();
    let outDir: string | undefined;
    /** A failed run leaves no earlier output that could pass for this configuration's. */
    const discardPrevious = () => {
        if (outDir === undefined) return;
        const removed = removePreviousOutput(outDir);
        if (removed.length > 0) {
            io.stderr.write(`synth: removed the ${removed.length} file(s) an earlier run wrote to ${shown(outDir)}/: they described another configuration, not this one\n`);
        }
    };
    try {
        const flags = parseFlags(argv);
        const { MOCK_ACCOUNT, configFlagHelp, evaluateStack, parseConfigOverrides, readStackFile } = program();
        if (flags.help) {
            io.stdout.write(help(configFlagHelp(24), MOCK_ACCOUNT));
            return EXIT_OK;
        }
        if (!flags.stack) throw new SynthError("--stack is required (e.g. --stack dev, for Pulumi.dev.yaml); run with --help for usage");
        const stack = flags.stack;
        outDir = path.resolve(flags.out ?? path.join("synth.out", stack));
        const projectDir = path.resolve(flags.projectDir ?? path.join(__dirname, ".."));
        let overrides: ConfigValues;
        try {
            overrides = parseConfigOverrides(flags.config);
            readStackFile(projectDir, stack); // the files' own problems: no such stack, YAML
        } catch (err) {
            throw new SynthError((err as Error).message);
        }
        const evaluate = async (extra: ConfigValues, during = ""): Promise<StackModel> => {
            try {
                return await evaluateStack({ stack, projectDir, overrides: { ...overrides, ...extra } });
            } catch (err) {
                // `pulumi preview` shows the program's ConfigError message; so does synth, without a stack trace.
                if (isConfigError(err)) throw new SynthError(`${during}${err.message}`);
                throw err;
            }
        };
        const model = await evaluate({});
        const evaluated = Date.now();
        const synthesis = synthesize(model);

        // The two-phase first `up`: before Kubeflow the program registers no Profile CRs (nor the
        // ServiceAccount patches of their namespaces); the second evaluation shows what the `up`
        // with kubeflowInstalled true adds.
        const context: SynthContext = { phase: model.config.kubeflowInstalled ? AFTER_KUBEFLOW : BEFORE_KUBEFLOW };
        let secondMs: number | undefined;
        if (context.phase === BEFORE_KUBEFLOW) {
            const secondStarted = Date.now();
            const second = await evaluate({ [KUBEFLOW_INSTALLED_KEY]: "true" }, `with ${KUBEFLOW_INSTALLED_KEY}=true (the \`up\` after Kubeflow is installed): `);
            secondMs = Date.now() - secondStarted;
            context.afterKubeflow = addedObjects(synthesis.kubernetes, synthesize(second).kubernetes);
        }
        const previous = readPreviousSummary(outDir, synthesis.project, stack);
        if (previous) context.changes = profileChanges(previous, synthesis, model.config.deleteRemovedProfiles, model.config.finishMoves);

        writeFiles(outDir, renderFiles(synthesis, context));
        const findings = synthesisFindings(synthesis);

        const out = io.stdout;
        out.write(`${synthesis.project} stack "${stack}": region ${synthesis.region}, cluster ${synthesis.clusterName}, identityMode ${synthesis.identityMode}\n`);
        out.write(`${placeholderNote(synthesis.placeholderAccount, synthesis.accountFromConfig)}.\n${synthesis.unknownConfig.map((note) => `Note: ${note}.\n`).join("")}\n`);
        out.write(`${summaryTable(synthesis)}\n\n`);
        const objects = objectCounts(synthesis.kubernetes);
        out.write(`${phaseLines(context, objects).join("\n")}\n`);
        if (context.changes) out.write(`${changeLines(context.changes).join("\n")}\n`);
        if (synthesis.hostedIssuerUrl) {
            out.write(`\nSelf-managed cluster: the stack hosts the issuer ${synthesis.hostedIssuerUrl} (${ISSUER_DIR}/ has its documents). Set on every kube-apiserver:\n`);
            out.write(`${apiServerFlags(synthesis.hostedIssuerUrl).map((f) => `  ${f}`).join("\n")}\n`);
        }
        out.write("\n");
        const permissions = synthesis.roles.reduce((n, r) => n + r.permissionPolicies.length + r.managedPolicies.length, 0);
        const written = [
            `${synthesis.roles.length} trust ${synthesis.roles.length === 1 ? "policy" : "policies"} in ${TRUST_DIR}/`,
            `${permissions} permission ${permissions === 1 ? "policy" : "policies"} in ${PERMISSION_DIR}/`,
            `${KUBERNETES_FILE} (${objects})`,
            ...(context.afterKubeflow ? [`${AFTER_KUBEFLOW_FILE} (${objectCounts(context.afterKubeflow)})`] : []),
            ...(synthesis.podIdentityAssociations.length > 0 ? [`${POD_IDENTITY_FILE} (${synthesis.podIdentityAssociations.length} associations)`] : []),
            ...(synthesis.issuerDocuments.size > 0 ? [`${ISSUER_DIR}/ (discovery document and JWKS)`] : []),
            SUMMARY_FILE,
        ];
        out.write(`Wrote ${shown(outDir)}: ${written.join(", ")}\n`);
        const second = secondMs !== undefined ? ` (and again in ${secondMs} ms with ${KUBEFLOW_INSTALLED_KEY}=true)` : "";
        out.write(`Evaluated the program in ${evaluated - started} ms${second}; ${Date.now() - started} ms in all.\n`);
        if (findings.length > 0) out.write(`\n${findingLines(findings).join("\n")}\n`);
        if (hasMandatory(findings)) {
            // As `pulumi preview --policy-pack policy` would: the files stay, for the review.
            io.stderr.write(`error: ${findings.filter(isMandatory).length} mandatory trust-policy finding(s); the files are written for review, but \`pulumi preview --policy-pack policy\` would refuse this stack\n`);
            return EXIT_INVALID;
        }
        return EXIT_OK;
    } catch (err) {
        if (err instanceof SynthError) {
            io.stderr.write(`error: ${err.message}\n`);
            discardPrevious();
            return EXIT_INVALID;
        }
        io.stderr.write(`synth: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
        discardPrevious();
        return EXIT_FAILED;
    }
}

if (require.main === module) {
    muteNodeVersionSupportWarning();
    main(process.argv.slice(2), process).then(
        (code) => process.exit(code),
        (err) => {
            process.stderr.write(`synth: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
            process.exit(EXIT_FAILED);
        },
    );
}
