// EKS Pod Identity role chaining (an association's targetRoleArn): the policies on both ends.
// Pure: the program attaches the first, synth prints the second for the target account's owners.
//
// Every profile's pods share kf-user, and an external id is no secret (EKS's is derived from the
// cluster, namespace and service account). So both ends are held to the Pod Identity session tags
// EKS sets and passes on to the chained session: only the profile's own namespace and service
// accounts may reach its target role — not another team's pods calling sts:AssumeRole themselves —
// and only from sessions of this cluster (eks-cluster-arn), not a same-named namespace elsewhere.

import { parseRoleRef } from "../providers/subjects";
import { POLICY_VERSION, type PolicyDocument, type PolicyStatement } from "../providers/trustPolicy";
import { CLUSTER_ARN_PRINCIPAL_TAG } from "./podIdentityTrust";

export const TARGET_ROLES_POLICY = "assume-target-roles";

/** A profile that reaches a role of another account: its namespace, its service accounts, the role. */
export interface ChainTarget {
    namespace: string;
    serviceAccounts: string[];
    targetRoleArn: string;
}

const NAMESPACE_TAG = "aws:PrincipalTag/kubernetes-namespace";
const SERVICE_ACCOUNT_TAG = "aws:PrincipalTag/kubernetes-service-account";
/**
 * A statement id for a namespace: Sids are [A-Za-z0-9] and unique within a policy (IAM refuses
 * duplicates with MalformedPolicyDocument). Namespaces are lower-case RFC 1123 labels, so their
 * one other character, '-', becomes an upper-case 'X': one-to-one ("team-a" → "teamXa", "teama"
 * stays "teama"), where dropping it made "team-a" and "teama" the same Sid.
 */
export const namespaceSid = (namespace: string) => namespace.replace(/-/g, "X");

/**
 * What kf-user needs to chain: per profile, sts:AssumeRole and sts:TagSession on its target role,
 * only from a session of that profile's namespace and service accounts on this cluster.
 */
export function targetRolesPolicy(targets: readonly ChainTarget[], clusterArn: string): PolicyDocument {
    return {
        Version: POLICY_VERSION,
        Statement: [...targets]
            .sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0))
            .map((t) => ({
                Sid: `Chain${namespaceSid(t.namespace)}`,
                Effect: "Allow",
                Action: ["sts:AssumeRole", "sts:TagSession"],
                Resource: t.targetRoleArn,
                Condition: { StringEquals: { [CLUSTER_ARN_PRINCIPAL_TAG]: clusterArn, [NAMESPACE_TAG]: t.namespace, [SERVICE_ACCOUNT_TAG]: [...t.serviceAccounts].sort() } },
            })),
    };
}

/**
 * The statement a target role in another account needs for one association: the association's
 * role (named through its account and aws:PrincipalArn, so the statement survives kf-user being
 * re-created and can be saved before it exists), with the association's external id, and only
 * for that namespace and service account of that cluster.
 */
export function targetTrustStatement(sourceRoleArn: string, externalId: string, clusterArn: string, namespace: string, serviceAccount: string): PolicyStatement {
    const source = parseRoleRef(sourceRoleArn);
    return {
        Sid: "EksPodIdentityChain",
        Effect: "Allow",
        Principal: { AWS: `arn:${source?.partition ?? "aws"}:iam::${source?.accountId ?? "<cluster account>"}:root` },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
            ArnEquals: { "aws:PrincipalArn": sourceRoleArn },
            StringEquals: { "sts:ExternalId": externalId, [CLUSTER_ARN_PRINCIPAL_TAG]: clusterArn, [NAMESPACE_TAG]: namespace, [SERVICE_ACCOUNT_TAG]: serviceAccount },
        },
    };
}
