// The TrustSubjects dynamic resource: a set of service-account subjects this stack owns in one IAM
// role's trust policy for one OIDC provider. What the engine stores as the resource's provider
// (`__provider`) is a small shim (./providerShim) that loads ./trustSubjectsProvider from the
// project where Pulumi runs, not the provider's code itself.

import * as pulumi from "@pulumi/pulumi";
import { PROVIDER_CONTRACT } from "./trustSubjectsProvider";
import { providerShim } from "./providerShim";
import { DEFAULT_MAX_POLICY_CHARS, type PolicyStatement } from "../domain/trustPolicy";

export { checkInputs, quotaProblem, trustSubjectsProvider, UNKNOWN, type TrustSubjectsInputs, type TrustSubjectsOutputs } from "./trustSubjectsProvider";

export interface TrustSubjectsArgs {
    /** The role, by name or ARN; it may belong to this stack or be managed elsewhere. */
    role: pulumi.Input<string>;
    /** The IAM OIDC provider of the cluster whose service accounts are trusted; none when the role trusts no provider (no subjects, no anchors: podIdentity mode). */
    providerArn?: pulumi.Input<string>;
    /** `system:serviceaccount:<namespace>:<name>` values this resource owns. */
    subjects: pulumi.Input<pulumi.Input<string>[]>;
    /** The account's ACLSizePerRole quota. @default 2048 */
    maxPolicyChars?: pulumi.Input<number>;
    /** Accept `*` and `?` in subjects (written under StringLike). @default false */
    allowWildcards?: pulumi.Input<boolean>;
    /**
     * Subjects the role must always trust: added like `subjects` and never removed while they are
     * anchors (not even on delete), so the role's trust policy never runs empty; on a change of
     * provider they move with the subjects. @default []
     */
    anchors?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Statements this stack wrote to the role by other means and no longer wants (a managed
     * role's Pod Identity trust after a switch back to IRSA): removed in the same write wherever
     * they appear exactly; a statement that differs in anything is left alone. @default []
     */
    retiredStatements?: pulumi.Input<PolicyStatement[]>;
    /**
     * Whole statements the role must hold, owned by this resource: added where missing, retired
     * when the inputs stop naming them, kept on delete (like anchors). A managed role's Pod
     * Identity trust in podIdentity mode, so one resource owns the role's trust in both modes. @default []
     */
    statements?: pulumi.Input<PolicyStatement[]>;
    /**
     * The stack that owns the subjects, naming its write-ahead record on the role (see
     * ./intent): two stacks on one role must differ. @default `<organization>/<project>/<stack>`
     */
    owner?: pulumi.Input<string>;
}

/**
 * The stack running this program, as TrustSubjects names its owner: `<organization>/<project>/<stack>`,
 * and after a `/` what else tells it apart. Self-managed backends (S3, a local folder) call every
 * organization "organization", so two deployments of a stack named `prod` on two such backends
 * would share a name: the component adds its region and cluster name (two clusters that share a
 * role are in the role's account, and one account has one cluster of a name per region).
 */
export function currentOwner(scope?: string): string {
    // Where no organization is set (mocks), "organization", as self-managed backends say.
    let organization = "organization";
    try {
        organization = pulumi.getOrganization() || organization;
    } catch {
        // setMocks without an organization
    }
    const stack = `${organization}/${pulumi.getProject()}/${pulumi.getStack()}`;
    return scope ? `${stack}/${scope}` : stack;
}

/** One provider object for every TrustSubjects resource: the SDK serializes it once. */
const provider = providerShim(PROVIDER_CONTRACT);

export class TrustSubjects extends pulumi.dynamic.Resource {
    declare public readonly role: pulumi.Output<string>;
    declare public readonly roleName: pulumi.Output<string>;
    declare public readonly roleArn: pulumi.Output<string>;
    declare public readonly providerArn: pulumi.Output<string>;
    declare public readonly subjects: pulumi.Output<string[]>;
    declare public readonly anchors: pulumi.Output<string[]>;
    declare public readonly maxPolicyChars: pulumi.Output<number>;
    declare public readonly policyChars: pulumi.Output<number>;
    declare public readonly leftovers: pulumi.Output<{ providerArn: string; subjects: string[] }[]>;
    /** Subjects of moved profiles the role keeps trusting until the move is finished (kubeflow-irsa:finishMoves). */
    declare public readonly draining: pulumi.Output<string[]>;

    constructor(name: string, args: TrustSubjectsArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            provider,
            name,
            {
                roleName: undefined,
                roleArn: undefined,
                policyChars: undefined,
                leftovers: undefined,
                draining: undefined,
                maxPolicyChars: DEFAULT_MAX_POLICY_CHARS,
                allowWildcards: false,
                anchors: [],
                retiredStatements: [],
                statements: [],
                providerArn: "",
                owner: currentOwner(),
                ...args,
            },
            opts,
            "kubeflow-irsa",
            "TrustSubjects",
        );
    }
}
