// Which config keys exist: this project's (`kubeflow-irsa:*`, the public contract Pulumi.yaml
// declares) and, for typos, the aws provider's. A key that looks meant for one of them but is not
// its key is an error naming the key and, when one is close, the key it was likely meant to be.

import * as aws from "@pulumi/aws";
import { closeMatch, editDistance } from "./names";
import { PROJECT } from "./configContract";
import type { OriginOf } from "./configReader";

/** Every `kubeflow-irsa:*` key (Pulumi.yaml declares the same, checked by a test); any other is a typo. */
export const CONFIG_KEYS = [
    "clusterName",
    "existingCluster",
    "kubeconfig",
    "enablePodIamPolicy",
    "enableFsx",
    "albController",
    "adminRoleMode",
    "adminServiceAccounts",
    "logShipperServiceAccounts",
    "userPolicyArns",
    "profiles",
    "trustPolicyMaxChars",
    "profileApiVersion",
    "userRoleShards",
    "identityMode",
    "instanceType",
    "desiredCapacity",
    "minSize",
    "maxSize",
    "kubeflowInstalled",
    "deleteRemovedProfiles",
    "finishMoves",
    "profileBucket",
] as const;

/**
 * Keys that only say how to reach the cluster: their values reach the Kubernetes provider's
 * connection (and the `kubeconfig` output), never what a resource is or what a trust or permission
 * policy says. The offline tools can work without knowing them (an encrypted kubeconfig, say).
 */
export const CONNECTION_KEYS: readonly string[] = ["kubeconfig"];

/** The aws provider's config keys (`aws:region`, `aws:profile`, …), as the installed @pulumi/aws declares them. */
export const AWS_CONFIG_KEYS: readonly string[] = Object.keys(aws.config).filter((k) => !k.startsWith("require"));

/**
 * Whether what `up` writes depends on the value of `fullKey`: `aws:region` and this project's keys
 * but its connection keys. The program reads no other key (the aws provider's credentials, say).
 */
export function valueShapesResources(fullKey: string): boolean {
    const [namespace, name] = splitKey(fullKey);
    return fullKey === "aws:region" || (namespace === PROJECT && (CONFIG_KEYS as readonly string[]).includes(name) && !CONNECTION_KEYS.includes(name));
}

/** Namespaces this close to the project's (edits) are typos of it, not another package's. */
const NAMESPACE_TYPO_EDITS = 2;

const splitKey = (full: string): [string, string] => {
    const at = full.indexOf(":");
    return at < 0 ? ["", full] : [full.slice(0, at), full.slice(at + 1)];
};

/** Where to fix a wrong key: the stack's configuration, or the offline tools' --config flag. */
function renameFix(full: string, origin: OriginOf): string {
    return origin(full) === "--config" ? "it came from --config: correct the key there" : "rename it in Pulumi.<stack>.yaml or with `pulumi config rm` / `set`";
}

function removeFix(full: string, origin: OriginOf): string {
    return origin(full) === "--config" ? "it came from --config: leave it out there" : `remove it from Pulumi.<stack>.yaml (\`pulumi config rm ${full}\`)`;
}

/**
 * Config keys that look meant for this project but are not its keys: a misspelt key of the
 * `kubeflow-irsa` namespace, or any key of a namespace one or two edits away from it. Silently
 * ignoring `kubeflow-irsa:profile` would mean zero profiles, and an `up` that removes them all.
 * An `aws:` key that is not the aws provider's but close to one of its keys is a typo too
 * (`aws:regin` leaves the region unset); the aws provider refuses unknown keys at `up` itself
 * (pulumi/pulumi-aws#3360), so other unknown `aws:` keys are left to it. Keys of other namespaces
 * (kubernetes, pulumi, …) are never refused.
 */
export function unknownKeyProblems(keys: readonly string[], origin: OriginOf = () => "stack"): string[] {
    const problems: string[] = [];
    const project = CONFIG_KEYS as readonly string[];
    for (const full of keys) {
        const [namespace, name] = splitKey(full);
        const known = project.includes(name);
        const near = known ? name : closeMatch(name, project);
        if (namespace === PROJECT && !known) {
            problems.push(
                near
                    ? `${full}: is not a key of this project; did you mean \`${PROJECT}:${near}\`? (${renameFix(full, origin)})`
                    : AWS_CONFIG_KEYS.includes(name)
                    ? `${full}: is not a key of this project; it is the aws provider's: did you mean \`aws:${name}\`? (${renameFix(full, origin)})`
                    : `${full}: is not a key of this project (its keys are those Pulumi.yaml declares, listed in the README's Configuration section); ${removeFix(full, origin)}`,
            );
        } else if (namespace !== PROJECT && namespace !== "" && editDistance(namespace, PROJECT) <= NAMESPACE_TYPO_EDITS) {
            problems.push(
                near
                    ? `${full}: "${namespace}" is not this project's namespace; did you mean \`${PROJECT}:${near}\`?`
                    : `${full}: "${namespace}" is not this project's namespace, and "${name}" is not a key of ${PROJECT} either; ${removeFix(full, origin)}`,
            );
        } else if (namespace === "aws" && !AWS_CONFIG_KEYS.includes(name)) {
            const meant = closeMatch(name, AWS_CONFIG_KEYS);
            if (meant) problems.push(`${full}: is not a config key of the aws provider; did you mean \`aws:${meant}\`? (${renameFix(full, origin)})`);
        }
    }
    return problems;
}
