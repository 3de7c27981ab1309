// Names the stack must not accept, from maintained sources rather than hand copies: AWS regions
// and their partitions, and namespaces that Kubernetes, Kubeflow or EKS own. Pure.

import { partition } from "@aws-sdk/core/client";
import * as aws from "@pulumi/aws";

/** Levenshtein distance, case-insensitive: how many single-character edits turn a into b. */
export function editDistance(a: string, b: string): number {
    const [x, y] = [a.toLowerCase(), b.toLowerCase()];
    let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
    for (let i = 1; i <= x.length; i++) {
        const current = [i];
        for (let j = 1; j <= y.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[y.length];
}

/** The closest of `candidates` to `name`. */
export function closest(name: string, candidates: readonly string[]): string {
    return candidates.reduce((best, k) => (editDistance(name, k) < editDistance(name, best) ? k : best));
}

/** Every region the AWS provider knows (its `aws.Region` enum, kept by the provider's maintainers). */
export const AWS_REGIONS: readonly string[] = Object.values(aws.types.enums.Region);

/**
 * Why `region` is not an AWS region, or undefined. A typo would name every role after a region
 * that does not exist (`kf-admin-us-wst-2-…`) and point the SDK at no endpoint.
 */
export function regionProblem(region: string): string | undefined {
    if (AWS_REGIONS.includes(region)) return undefined;
    return (
        `"${region}" is not an AWS region; did you mean "${closest(region, AWS_REGIONS)}"? ` +
        "(regions are those of @pulumi/aws's aws.Region; a region newer than the installed provider needs `npm update @pulumi/aws`)"
    );
}

/** The ARN partition of a region: aws, aws-cn, aws-us-gov, … (the AWS SDK's partition table). */
export function partitionOf(region: string): string {
    return partition(region).name;
}

/**
 * Namespaces a profile may not take: a profile's namespace is trusted by kf-user (or its role) for
 * `default-editor`, and Kubeflow makes the profile's owner its admin.
 * - Kubernetes' initial namespaces, and the `kube-` prefix it reserves
 *   (kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#initial-namespaces);
 * - what Kubeflow's manifests install into (kubeflow/manifests: common/ and apps/);
 * - what EKS and its AWS add-ons install into (Container Insights, Fargate logging, GuardDuty).
 */
export const RESERVED_NAMESPACES: readonly string[] = [
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "kubeflow",
    "kubeflow-system",
    "istio-system",
    "cert-manager",
    "auth",
    "oauth2-proxy",
    "knative-serving",
    "knative-eventing",
    "amazon-cloudwatch",
    "aws-observability",
    "amazon-guardduty",
];

/** Why a profile may not be named `name` (a namespace someone else owns), or undefined. */
export function reservedNamespaceProblem(name: string): string | undefined {
    if (!RESERVED_NAMESPACES.includes(name) && !name.startsWith("kube-")) return undefined;
    return (
        `"${name}" is a namespace that ${name.startsWith("kube") || name === "default" ? "Kubernetes" : "Kubeflow or EKS"} owns: ` +
        `a profile of that name would make its owner admin of it and let its default-editor pods take the profile's role; choose a name of the team's own (e.g. "team-${name.replace(/^kube-?/, "") || "a"}")`
    );
}
