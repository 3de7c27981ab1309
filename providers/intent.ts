// Write-ahead intent: what a trust-policy write may add, recorded on the role (as tags) before the
// write is sent. Pure functions, no I/O.
//
// Why: a write that lands and then fails is owned through partial state, but a host process that
// dies between the write and its answer (killed, out of memory, a lost machine) leaves the engine
// with the old state: the subjects that write added are in the role and owned by nobody, so a
// reverted config or a destroy would never remove them. IAM has no place in the trust policy for
// such a record that costs no quota, but a role carries up to 50 tags, written by another call
// (iam:TagRole) that does not race with trust-policy writes. So before a write adds subjects, the
// resource tags the role with a hash of each; a later operation of the same resource (update,
// delete, refresh) that finds such a tag takes the subjects it names, and that the role's trust
// policy holds, as owned; the tags go once an operation has completed.
//
// Tags: `kubeflow-irsa:pending:<provider hash>:<n>`, values of 8-character hashes (48 bits of
// SHA-256 over the provider ARN and the subject, base64url), 32 to a tag. The provider hash keeps
// two stacks (two clusters) that share a role apart: each finds and clears only its own.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html (50 tags per role, values ≤ 256).

import { createHash } from "crypto";
import type { HeldSubjects } from "./ownership";

export const INTENT_TAG_PREFIX = "kubeflow-irsa:pending:";
const HASH_CHARS = 8;
/** IAM's tag-value limit (256 characters) holds 32 hashes. */
const HASHES_PER_TAG = 32;

export interface Tag {
    Key: string;
    Value: string;
}

const digest = (text: string, chars: number) => createHash("sha256").update(text).digest("base64url").slice(0, chars);

/** The part of a tag key that names the provider: two stacks (clusters) on one role never share it. */
export function providerKey(providerArn: string): string {
    return `${INTENT_TAG_PREFIX}${digest(providerArn, 12)}:`;
}

function subjectHash(providerArn: string, subject: string): string {
    return digest(`${providerArn}\n${subject}`, HASH_CHARS);
}

/** The tags that record `subjects` as possibly added under `providerArn` (replacing any earlier record of that provider). */
export function intentTags(providerArn: string, subjects: readonly string[]): Tag[] {
    const hashes = [...new Set(subjects.map((s) => subjectHash(providerArn, s)))].sort();
    const tags: Tag[] = [];
    for (let i = 0; i < hashes.length; i += HASHES_PER_TAG) {
        tags.push({ Key: `${providerKey(providerArn)}${tags.length}`, Value: hashes.slice(i, i + HASHES_PER_TAG).join("") });
    }
    return tags;
}

/** The keys of every intent tag of these providers among `tags`. */
export function intentKeys(tags: readonly Tag[], providerArns: readonly string[]): string[] {
    const prefixes = providerArns.filter(Boolean).map(providerKey);
    return tags.map((t) => t.Key).filter((key) => prefixes.some((p) => key.toLowerCase().startsWith(p.toLowerCase())));
}

/**
 * Of `candidates` (per provider, what the role's trust policy holds), those an intent tag of that
 * provider names: what an earlier write of this resource may have added without its state knowing.
 */
export function pendingSubjects(tags: readonly Tag[], candidates: readonly HeldSubjects[]): HeldSubjects[] {
    return candidates
        .map(({ providerArn, subjects }) => {
            const recorded = new Set<string>();
            for (const key of intentKeys(tags, [providerArn])) {
                const value = tags.find((t) => t.Key === key)?.Value ?? "";
                for (let i = 0; i + HASH_CHARS <= value.length; i += HASH_CHARS) recorded.add(value.slice(i, i + HASH_CHARS));
            }
            return { providerArn, subjects: subjects.filter((s) => recorded.has(subjectHash(providerArn, s))).sort() };
        })
        .filter((e) => e.subjects.length > 0);
}
