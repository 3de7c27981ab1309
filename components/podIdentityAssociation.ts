// One EKS Pod Identity association (`aws:eks/podIdentityAssociation:PodIdentityAssociation`, the
// AWS provider's resource), registered with only the properties this stack sets or reads.
//
// Why not `aws.eks.PodIdentityAssociation` itself: the SDK class declares all 13 of the resource's
// properties as outputs, and the Node SDK makes four promises per output property, each with a
// stack trace. With one association per profile service account that was ~52 promises per
// profile, which made evaluating a podIdentity stack a third slower than the same stack in IRSA
// mode (bench/: "Program evaluation"). The engine and the provider see the same registration: the
// type token, the inputs, and the AWS package's version (as @pulumi/aws's own classes pass it), so
// the plan, the state and the provider's diff are those of `aws.eks.PodIdentityAssociation`.

import * as pulumi from "@pulumi/pulumi";
import { getVersion } from "@pulumi/aws/utilities";

export const POD_IDENTITY_ASSOCIATION_TYPE = "aws:eks/podIdentityAssociation:PodIdentityAssociation";

export interface PodIdentityAssociationArgs {
    clusterName: pulumi.Input<string>;
    namespace: pulumi.Input<string>;
    serviceAccount: pulumi.Input<string>;
    /** The role in the cluster's account that EKS Pod Identity assumes first. */
    roleArn: pulumi.Input<string>;
    /** A role in another account the session chains to (EKS Pod Identity role chaining). */
    targetRoleArn?: pulumi.Input<string>;
}

export class PodIdentityAssociation extends pulumi.CustomResource {
    /**
     * What EKS passes as `sts:ExternalId` when it chains to `targetRoleArn` (the target's trust
     * policy should require it). Only an association with a target role reads it back.
     */
    declare public readonly externalId?: pulumi.Output<string>;

    constructor(name: string, args: PodIdentityAssociationArgs, opts?: pulumi.CustomResourceOptions) {
        const inputs: pulumi.Inputs = {
            clusterName: args.clusterName,
            namespace: args.namespace,
            serviceAccount: args.serviceAccount,
            roleArn: args.roleArn,
            ...(args.targetRoleArn !== undefined ? { targetRoleArn: args.targetRoleArn, externalId: undefined } : {}),
        };
        super(POD_IDENTITY_ASSOCIATION_TYPE, name, inputs, pulumi.mergeOptions({ version: getVersion() }, opts));
    }
}
