// What `up` of a stack would apply, for `npm run synth` (cli/synth.ts) and the doctor's --offline:
// from the resources the program registered under mocks (cli/evaluate.ts) to a Synthesis — each
// role's trust policy after the TrustSubjects provider's own `check` and `create`, its permission
// policies, the Pod Identity associations, the Kubernetes objects and a self-managed issuer's
// documents. Nothing about placement, sharding or naming is re-implemented here.

import type { RecordedResource, StackModel } from "./evaluate";
import { kubernetesObjects, type KubernetesObject } from "./synthKubernetes";
import { roleKey, roleNameOf, subjectOf } from "../domain/subjects";
import { createChanges } from "../providers/ownership";
import { applyTrustChanges } from "../domain/trustChanges";
import { buildTrustPolicy, parsePolicyDocument, policySize, presentSubjects, type PolicyDocument } from "../domain/trustPolicy";

export const POD_IDENTITY_TYPE = "aws:eks/podIdentityAssociation:PodIdentityAssociation";
const ROLE_POLICY_TYPE = "aws:iam/rolePolicy:RolePolicy";
const ROLE_POLICY_ATTACHMENT_TYPE = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
const MANAGED_POLICY_TYPE = "aws:iam/policy:Policy";

export function placeholderNote(account: string, fromConfig = false): string {
    if (fromConfig) return `ARNs of resources this stack creates carry account ${account}, the account the config names (kubeflow-irsa:existingCluster.oidcProviderArn, or an awsIamRole ARN with the name of a stack role)`;
    return `ARNs of resources this stack creates carry the placeholder account ${account}; ` + "`pulumi up` uses the deploying account's ID (ARNs taken from the stack's config are as configured)";
}

/**
 * The program's side: the evaluator and the TrustSubjects provider's own checks. Loaded on first
 * use, after the command line has picked the TypeScript loader (see the end of cli/synth.ts): they
 * bring in the Pulumi SDK and, through index.ts, the whole program.
 */
export function program() {
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

/** A failure `pulumi preview` would also report, or bad usage: message only, exit 2. */
export class SynthError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "SynthError";
    }
}

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
export const str = (value: unknown): string => (typeof value === "string" ? value : "");
export const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

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
