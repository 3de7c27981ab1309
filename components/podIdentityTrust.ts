// EKS Pod Identity pinned to one cluster. Every association in the account goes through the same
// service principal, pods.eks.amazonaws.com, so a role that trusts it without a condition can be
// used by an association on any cluster of the account — for a namespace named like one of ours.
// EKS tags each session with the cluster's ARN (eks-cluster-arn, a transitive session tag), so
// the trust requires it as a request tag, and what the sessions may do (the profile bucket,
// chaining) requires it as a principal tag. Pure: the program, synth and the doctor call it.
// https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html (Setting Conditions)
// https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html (session tags)

import { parseRoleRef } from "../domain/subjects";
import { POLICY_VERSION, type PolicyDocument, type PolicyStatement } from "../domain/trustPolicy";

/** The session tag EKS Pod Identity sets to the ARN of the association's cluster. */
export const CLUSTER_ARN_TAG = "eks-cluster-arn";
/** The tag as a trust policy sees it (the tags the session is being given). */
export const CLUSTER_ARN_REQUEST_TAG = `aws:RequestTag/${CLUSTER_ARN_TAG}`;
/** The tag as a permission or target-role policy sees it (the tags the session carries). */
export const CLUSTER_ARN_PRINCIPAL_TAG = `aws:PrincipalTag/${CLUSTER_ARN_TAG}`;

export const POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com";
const POD_IDENTITY_ACTIONS = ["sts:AssumeRole", "sts:TagSession"];

/** `arn:<partition>:eks:<region>:<account>:cluster/<name>`, the value EKS puts in eks-cluster-arn. */
export function eksClusterArn(partition: string, region: string, account: string, clusterName: string): string {
    return `arn:${partition}:eks:${region}:${account}:cluster/${clusterName}`;
}

/**
 * The statement earlier versions wrote (and the role's initial trust held): any association in
 * the account could use the role. Retired from every managed role, in the same write that adds
 * the pinned one, so the role never goes without Pod Identity trust.
 */
export const UNPINNED_POD_IDENTITY_STATEMENT: PolicyStatement = {
    Effect: "Allow",
    Principal: { Service: POD_IDENTITY_SERVICE },
    Action: POD_IDENTITY_ACTIONS,
};

/**
 * The cluster's ARN as synth and the doctor know it offline: in the account and partition of a
 * role the stack creates (Pod Identity binds only roles of the cluster's account).
 */
export function clusterArnOfRole(roleArn: string, region: string, clusterName: string): string {
    const ref = parseRoleRef(roleArn);
    return eksClusterArn(ref?.partition ?? "aws", region, ref?.accountId ?? "<account>", clusterName);
}

/** The Pod Identity trust of a managed role: only sessions EKS tags with this cluster's ARN. */
export function podIdentityStatement(clusterArn: string): PolicyStatement {
    return { ...UNPINNED_POD_IDENTITY_STATEMENT, Action: [...POD_IDENTITY_ACTIONS], Condition: { StringEquals: { [CLUSTER_ARN_REQUEST_TAG]: clusterArn } } };
}

/** A managed role's first trust policy in podIdentity mode. */
export function podIdentityTrust(clusterArn: string): PolicyDocument {
    return { Version: POLICY_VERSION, Statement: [podIdentityStatement(clusterArn)] };
}
