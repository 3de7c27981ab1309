// Kubeflow profiles: one Profile custom resource per configured profile, and the IAM side that lets
// its service accounts (`default-editor` unless the profile lists others) assume its role — trust
// subjects grouped per role (IRSA) or one Pod Identity association per service account
// (podIdentity). Kubeflow's controller annotates only `default-editor`; the stack annotates the
// others (IRSA mode, once Kubeflow runs).

import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { TrustSubjects } from "../providers/trustSubjects";
import { PodIdentityAssociation } from "./podIdentityAssociation";
import { DEFAULT_EDITOR, parseServiceAccountRef } from "../domain/subjects";
import type { IdentityMode, ProfileApiVersion, ProfileConfig } from "./config";
import type { TrustPlan } from "./placement";
import { podIdentityStatement, UNPINNED_POD_IDENTITY_STATEMENT } from "./podIdentityTrust";
import type { PolicyStatement } from "../domain/trustPolicy";

export interface KubeflowProfilesArgs {
    profiles: ProfileConfig[];
    /** @default "kubeflow.org/v1" */
    apiVersion: ProfileApiVersion;
    /** false: Profile CRs only, no IAM. */
    enablePodIamPolicy: boolean;
    identityMode: IdentityMode;
    plan: TrustPlan;
    /** ARNs of the roles this stack manages, by role name. */
    managedRoleArns: Map<string, pulumi.Output<string>>;
    oidcProviderArn: pulumi.Input<string | undefined>;
    clusterName: pulumi.Input<string>;
    /** podIdentity: this cluster's ARN; the managed roles trust only Pod Identity sessions EKS tags with it. */
    clusterArn?: pulumi.Input<string>;
    /** The stack, as its TrustSubjects name their owner (see currentOwner). */
    owner: string;
    /** The account's ACLSizePerRole quota. */
    maxPolicyChars: number;
    /** `namespace:name` service accounts bound to kf-admin (podIdentity mode); the components' own roles are in plan.names.controllers. */
    adminServiceAccounts: string[];
    k8sProvider?: k8s.Provider;
    /** Register the Profile objects (Kubeflow and its Profile CRD are installed). @default false */
    kubeflowInstalled: boolean;
    /** Delete a Profile that leaves the config (Kubeflow then deletes its namespace). @default false: keep it */
    deleteRemovedProfiles: boolean;
    /** The eks-pod-identity-agent add-on (podIdentity mode). */
    podIdentityAgent?: aws.eks.Addon;
    /** podIdentity: profile → its role in another account, reached by chaining from kf-user. @default none */
    targetRoles?: Map<string, string>;
}

/** The Profile object the Kubeflow profile controller reconciles. */
export function profileSpec(profile: ProfileConfig, roleArn: pulumi.Input<string> | undefined): Record<string, pulumi.Input<unknown>> {
    return {
        owner: { kind: "User", name: profile.owner },
        // annotateOnly: the controller only annotates default-editor with the role ARN; the trust
        // policy is this stack's (Kubeflow >= 1.7; older controllers ignore the field).
        plugins: roleArn === undefined ? [] : [{ kind: "AwsIamForServiceAccount", spec: { awsIamRole: roleArn, annotateOnly: true } }],
    };
}

/** The IRSA annotation EKS's pod identity webhook reads. */
export const ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn";

/**
 * Sets the role-arn annotation of a service account with a server-side-apply patch: the stack
 * owns that annotation (and the provider's own `pulumi.com/patchForce` marker) and nothing else of
 * the object (labels, secrets, other annotations stay as Kubeflow or the team left them). The
 * patch creates the account when it does not exist yet (a pod needs it anyway); the Kubernetes
 * provider retries a missing namespace for about half a minute while Kubeflow creates it.
 * `pulumi.com/patchForce`: the stack's value wins over a hand-set one. Deleting the patch (account
 * or profile removed from config, or a switch to podIdentity) gives the fields up, which removes
 * the annotation; if the namespace was deleted by hand first, that delete fails until the patch
 * leaves the state (`pulumi state delete <urn>`, see README).
 */
function annotateServiceAccount(
    parent: pulumi.Resource,
    name: string,
    namespace: string,
    serviceAccount: string,
    roleArn: pulumi.Input<string>,
    opts: { provider?: k8s.Provider; dependsOn: pulumi.Resource[] },
): k8s.core.v1.ServiceAccountPatch {
    return new k8s.core.v1.ServiceAccountPatch(
        name,
        { metadata: { name: serviceAccount, namespace, annotations: { [ROLE_ARN_ANNOTATION]: roleArn, "pulumi.com/patchForce": "true" } } },
        // The role must trust the account before pods are pointed at it.
        { parent, provider: opts.provider, dependsOn: opts.dependsOn },
    );
}

export class KubeflowProfiles extends pulumi.ComponentResource {
    /** Namespace → the role ARN its `default-editor` gets (empty without IAM). */
    public readonly profileRoleArns: pulumi.Output<Record<string, string>>;
    public readonly trustSubjects: TrustSubjects[] = [];
    /** `<namespace>/<service account>` → its association's external id, for associations that chain to another account. */
    public readonly externalIds: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: KubeflowProfilesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeflow-irsa:profiles:KubeflowProfiles", name, {}, opts);
        const { plan } = args;

        const roleArnOf = (profile: string): pulumi.Output<string> => {
            const target = plan.profileRoles.get(profile)!;
            // A role this stack creates is named by its own ARN, also when an awsIamRole ARN names it
            // (in another spelling, or with a path it does not have); another role by the ARN as configured.
            return target.roleArn !== undefined ? pulumi.output(target.roleArn) : args.managedRoleArns.get(target.roleName)!;
        };

        const trustByRole = new Map<string, TrustSubjects>();
        const irsa = args.identityMode === "irsa";
        if (args.enablePodIamPolicy) {
            // One TrustSubjects owns a managed role's trust in both modes, so a mode switch is an
            // update of it — one read-modify-write — whatever the order of switches: in IRSA mode
            // the anchor and subjects under the current provider (the Pod Identity statement
            // retired), in podIdentity mode the Pod Identity statement (every OIDC subject it
            // wrote removed). Every managed role gets one, if only for its anchor: the role's
            // initial trust names the provider of its creation, and a new cluster must bring the
            // anchor to the current provider. Roles managed elsewhere get one in IRSA mode only
            // (in podIdentity mode they must trust pods.eks.amazonaws.com themselves).
            const groups = plan.groups.filter((g) => (irsa ? g.subjects.length > 0 || g.anchor : g.managed));
            // The Pod Identity statement, pinned to this cluster; what earlier versions wrote (no
            // condition: any association of the account) is retired from every managed role in the
            // write that adds it — one document, so the role is never without Pod Identity trust.
            const podIdentity: pulumi.Input<PolicyStatement[]> = irsa ? [] : pulumi.output(args.clusterArn).apply((arn) => [podIdentityStatement(arn!)]);
            for (const group of groups) {
                const trust = new TrustSubjects(
                    `trust-${group.key}`,
                    {
                        role: group.managed ? args.managedRoleArns.get(group.roleName)! : group.roleArn!,
                        ...(irsa ? { providerArn: pulumi.output(args.oidcProviderArn).apply((arn) => arn!) } : {}),
                        subjects: irsa ? group.subjects : [],
                        anchors: irsa && group.anchor ? [group.anchor] : [],
                        maxPolicyChars: args.maxPolicyChars,
                        owner: args.owner,
                        statements: podIdentity,
                        // A role created in podIdentity mode, or by an earlier version that let its
                        // Role resource write the Pod Identity trust, may hold that statement without
                        // this resource owning it; back in IRSA mode it would still let any
                        // association in the account use the role. (The pinned statement is always
                        // owned here, so a switch back to IRSA retires it as an owned statement.)
                        retiredStatements: group.managed ? [UNPINNED_POD_IDENTITY_STATEMENT] : [],
                    },
                    { parent: this },
                );
                trustByRole.set(group.key, trust);
                this.trustSubjects.push(trust);
            }
        }

        const chained: [string, pulumi.Output<string>][] = [];
        if (args.enablePodIamPolicy && args.identityMode === "podIdentity") {
            // Associations wait for the agent: a pod bound before the agent runs gets credentials
            // it cannot fetch. (With an association, EKS's webhook injects Pod Identity and no
            // longer IRSA for new pods, even while default-editor keeps its role-arn annotation.)
            // And for the role's trust: a pod bound to a role that does not trust Pod Identity yet
            // gets no credentials.
            const trustOf = (roleName: string) => trustByRole.get(plan.groups.find((g) => g.managed && g.roleName === roleName)?.key ?? "");
            const bind = (resourceName: string, namespace: string, serviceAccount: string, roleArn: pulumi.Input<string>, roleName: string | undefined, targetRoleArn?: string) => {
                const trust = roleName === undefined ? undefined : trustOf(roleName);
                return new PodIdentityAssociation(
                    resourceName,
                    { clusterName: args.clusterName, namespace, serviceAccount, roleArn, ...(targetRoleArn ? { targetRoleArn } : {}) },
                    { parent: this, dependsOn: [...(args.podIdentityAgent ? [args.podIdentityAgent] : []), ...(trust ? [trust] : [])] },
                );
            };
            const kfUser = args.managedRoleArns.get(plan.names.users[0])!;
            for (const profile of args.profiles) {
                // A role of another account cannot be associated: EKS assumes kf-user, then the role.
                const target = args.targetRoles?.get(profile.name);
                const placed = plan.profileRoles.get(profile.name)!;
                const roleName = target ? plan.names.users[0] : placed.managed ? placed.roleName : undefined;
                for (const sa of profile.serviceAccounts) {
                    const association = bind(`pod-identity-${profile.name}/${sa}`, profile.name, sa, target ? kfUser : roleArnOf(profile.name), roleName, target);
                    if (target) chained.push([`${profile.name}/${sa}`, association.externalId!]);
                }
            }
            const controlPlane = [
                { refs: args.adminServiceAccounts, roleName: plan.names.admin },
                ...plan.names.controllers.map(({ component, name }) => ({ refs: component.serviceAccounts, roleName: name })),
            ];
            for (const { refs, roleName } of controlPlane) {
                for (const ref of refs) {
                    const sa = parseServiceAccountRef(ref)!;
                    bind(`pod-identity-${sa.namespace}/${sa.serviceAccount}`, sa.namespace, sa.serviceAccount, args.managedRoleArns.get(roleName)!, roleName);
                }
            }
        }

        // Before Kubeflow runs there is no Profile CRD: the IAM side is set up alone, so a
        // profile's role already trusts its namespace when Kubeflow creates it.
        const withIam = args.enablePodIamPolicy && irsa;
        for (const profile of args.kubeflowInstalled ? args.profiles : []) {
            const trust = trustByRole.get(plan.profileRoles.get(profile.name)?.key ?? "");
            const crd = new k8s.apiextensions.CustomResource(
                `profile-${profile.name}`,
                {
                    apiVersion: args.apiVersion,
                    kind: "Profile",
                    metadata: { name: profile.name },
                    // The plugin annotates default-editor: only when that account is one the role trusts.
                    spec: profileSpec(profile, withIam && profile.serviceAccounts.includes(DEFAULT_EDITOR) ? roleArnOf(profile.name) : undefined),
                },
                // The role must trust the namespace before the controller points pods at it. The
                // Profile owns its namespace (Kubeflow garbage-collects it with notebooks, volumes
                // and secrets), so by default a profile removed from config is left in the cluster.
                { parent: this, provider: args.k8sProvider, dependsOn: trust ? [trust] : [], retainOnDelete: !args.deleteRemovedProfiles },
            );
            // Kubeflow annotates default-editor only; every other listed account gets the same
            // annotation from the stack (IRSA mode; Pod Identity needs none).
            for (const sa of withIam ? profile.serviceAccounts.filter((n) => n !== DEFAULT_EDITOR) : []) {
                annotateServiceAccount(this, `service-account-${profile.name}/${sa}`, profile.name, sa, roleArnOf(profile.name), {
                    provider: args.k8sProvider,
                    dependsOn: [crd, ...(trust ? [trust] : [])],
                });
            }
        }

        this.profileRoleArns = args.enablePodIamPolicy
            ? pulumi.all(Object.fromEntries(args.profiles.map((p) => [p.name, roleArnOf(p.name)])))
            : pulumi.output<Record<string, string>>({});
        this.externalIds = pulumi.all(Object.fromEntries(chained));
        this.registerOutputs({ profileRoleArns: this.profileRoleArns, externalIds: this.externalIds });
    }
}
