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

/**
 * The candidate `name` is most likely a typo of, or undefined when none is close: at most one edit
 * per three characters of `name` (at least one), as compilers judge "did you mean". A suggestion
 * far from what was typed (`foo` → `profiles`) would mislead more than it helps.
 */
export function closeMatch(name: string, candidates: readonly string[]): string | undefined {
    const allowed = Math.max(1, Math.floor(name.length / 3));
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of candidates) {
        const distance = editDistance(name, candidate);
        if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
    }
    if (bestDistance <= allowed) return best;
    // A shortened or lengthened name (`adminRole` for adminRoleMode, `maxChars` for
    // trustPolicyMaxChars): one candidate that contains it, or that it contains, at least 4 letters long.
    const lower = name.toLowerCase();
    const containing = lower.length >= 4 ? candidates.filter((c) => c.toLowerCase().includes(lower) || (c.length >= 4 && lower.includes(c.toLowerCase()))) : [];
    return containing.length === 1 ? containing[0] : undefined;
}

/** Every region the AWS provider knows (its `aws.Region` enum, kept by the provider's maintainers). */
export const AWS_REGIONS: readonly string[] = Object.values(aws.types.enums.Region);

/**
 * Why `region` is not an AWS region, or undefined. A typo would name every role after a region
 * that does not exist (`kf-admin-us-wst-2-…`) and point the SDK at no endpoint.
 */
export function regionProblem(region: string): string | undefined {
    if (AWS_REGIONS.includes(region)) return undefined;
    const near = closeMatch(region, AWS_REGIONS);
    return (
        `"${region}" is not an AWS region; ${near ? `did you mean "${near}"?` : 'use a region code such as "us-west-2"'} ` +
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

/**
 * Why `name` is not an S3 general purpose bucket name, or undefined: 3–63 characters of lower-case
 * letters, digits, '.' and '-', starting and ending with a letter or digit, no "..", not an IP
 * address, none of the reserved prefixes and suffixes
 * (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
 */
export function bucketNameProblem(name: string): string | undefined {
    const rule = "S3 bucket names are 3–63 characters of lower-case letters, digits, '.' and '-', starting and ending with a letter or digit";
    if (name.length < 3 || name.length > 63) return `"${name}" is ${name.length} character${name.length === 1 ? "" : "s"} long: ${rule}`;
    if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) return `"${name}" is not an S3 bucket name: ${rule}`;
    if (name.includes("..")) return `"${name}" has two adjacent periods, which S3 bucket names may not`;
    if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return `"${name}" is formatted as an IP address, which S3 bucket names may not be`;
    const reserved = ["xn--", "sthree-"].find((p) => name.startsWith(p)) ?? ["-s3alias", "--ol-s3", "--x-s3", ".mrap"].find((s) => name.endsWith(s));
    if (reserved) return `"${name}" uses "${reserved}", which S3 reserves: not a general purpose bucket name`;
    return undefined;
}
