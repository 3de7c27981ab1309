// EKS Pod Identity role chaining (an association's targetRoleArn): the policies on both ends.
// Pure: the program attaches the first, synth prints the second for the target account's owners.
//
// Every profile's pods share kf-user, and an external id is no secret (EKS's is derived from the
// cluster, namespace and service account). So both ends are held to the Pod Identity session tags
// EKS sets and passes on to the chained session: only the profile's own namespace and service
// accounts may reach its target role — not another team's pods calling sts:AssumeRole themselves —
// and only from sessions of this cluster (eks-cluster-arn), not a same-named namespace elsewhere.

import { createHash } from "crypto";
import { parseRoleRef } from "../domain/subjects";
import { policySize, POLICY_VERSION, type PolicyDocument, type PolicyStatement } from "../domain/trustPolicy";
import { MANAGED_POLICY_MAX_CHARS } from "./permissionBudget";
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
 * Chained profiles at scale. The exact policy costs some 300 characters a profile, and a role's
 * inline policies may total 10,240: about 30 profiles. Beyond, kf-user's side is written in pages
 * (customer managed policies, 6,144 characters each) that name no target role, only who may
 * chain: sessions of this cluster whose namespace and service account are a chained profile's, to
 * roles of any account but the cluster's own — about 13 characters a profile, so 1,000 profiles
 * take 4 pages. Those sessions are
 * EKS's own: a chained association hands the pod the target's credentials, never kf-user's, and
 * every other team's pods (which do hold kf-user sessions) are in no page. The pairing of each
 * association with its target role is the target's trust statement (external id, namespace,
 * service account, cluster), which synth writes per association.
 */
export const CHAIN_PAGE = "chain";
/** Pages come in powers of two (so a namespace's page is stable, see pageOf); more than this is not tried. */
const MAX_PAGES = 64;

/** A namespace's page among `pages` (a power of two): a hash, so profiles coming and going move no other. */
function pageOf(namespace: string, pages: number): number {
    return parseInt(createHash("sha256").update(namespace).digest("hex").slice(0, 8), 16) % pages;
}

/**
 * One page: sessions of these profiles' namespaces and service accounts on this cluster may assume
 * and tag roles of other accounts — never one of the cluster's own account (chained targets are in
 * other accounts by definition; `NotResource`, so a thousand target accounts cost nothing). Narrower
 * than that (each namespace to its own role) costs a statement a profile; the pairing is the
 * target's trust statement (targetTrustStatement). The cluster's account is read off its ARN, so
 * a placeholder ARN of the same length sizes the page exactly.
 */
export function chainPageDocument(targets: readonly ChainTarget[], clusterArn: string, partition: string): PolicyDocument {
    const sorted = (values: Iterable<string>) => [...new Set(values)].sort();
    const clusterAccount = clusterArn.split(":")[4];
    return {
        Version: POLICY_VERSION,
        Statement: [
            {
                Sid: "ChainedProfilesOfThisCluster",
                Effect: "Allow",
                Action: ["sts:AssumeRole", "sts:TagSession"],
                NotResource: `arn:${partition}:iam::${clusterAccount}:*`,
                Condition: {
                    StringEquals: {
                        [CLUSTER_ARN_PRINCIPAL_TAG]: clusterArn,
                        [NAMESPACE_TAG]: sorted(targets.map((t) => t.namespace)),
                        [SERVICE_ACCOUNT_TAG]: sorted(targets.flatMap((t) => t.serviceAccounts)),
                    },
                },
            },
        ],
    };
}

/** A page: its index, its namespaces, and the pages that must be in place before it changes. */
export interface ChainPage {
    index: number;
    namespaces: string[];
    /**
     * Pages that may take namespaces this one gives up when the count grows (a namespace on page
     * k of fewer pages moves to a page j > k with j ≡ k modulo that count): they are created or
     * updated first, so no namespace is ever on no page. When the count shrinks, the pages that
     * go are deleted last (the engine deletes after it creates and updates).
     */
    after: number[];
}

export type ChainLayout = { kind: "exact" } | { kind: "pages"; pages: ChainPage[] };

/**
 * The exact policy while it fits `inlineBudget` (what kf-user's other inline policies leave of
 * IAM's 10,240), else the fewest pages (a power of two) that each fit a managed policy. Sized
 * with `clusterArn` (a placeholder of the real ARN's length does).
 */
export function chainLayout(targets: readonly ChainTarget[], clusterArn: string, partition: string, inlineBudget: number): ChainLayout {
    if (policySize(targetRolesPolicy(targets, clusterArn)) <= inlineBudget) return { kind: "exact" };
    const namespaces = [...new Set(targets.map((t) => t.namespace))].sort();
    let count = 1;
    const split = (n: number) => Array.from({ length: n }, (_, k) => namespaces.filter((ns) => pageOf(ns, n) === k));
    const targetsOf = (page: readonly string[]) => targets.filter((t) => page.includes(t.namespace));
    while (count < MAX_PAGES && split(count).some((page) => policySize(chainPageDocument(targetsOf(page), clusterArn, partition)) > MANAGED_POLICY_MAX_CHARS)) count *= 2;
    const step = (k: number) => (k === 0 ? 1 : 2 ** (Math.floor(Math.log2(k)) + 1));
    const pages = split(count)
        .map((page, index) => ({ index, namespaces: page, after: [] as number[] }))
        .filter((p) => p.namespaces.length > 0);
    const present = new Set(pages.map((p) => p.index));
    for (const page of pages) {
        for (let j = page.index + step(page.index); j < count; j += step(page.index)) if (present.has(j)) page.after.push(j);
    }
    return { kind: "pages", pages };
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
