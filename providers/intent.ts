// Write-ahead record: what a trust-policy write of one stack may add, kept on the role (as tags)
// from before the write is sent until the engine has state that owns it. Pure functions, no I/O.
//
// Why: a write that lands and then fails is owned through partial state, but a host process that
// dies between the write and its answer (killed, out of memory, a lost machine) leaves the engine
// with the old state: what that write added is in the role and owned by no state, so a reverted
// config or a destroy would never remove it. A role's tags (up to 50, written by iam:TagRole, a
// call that does not race with trust-policy writes, and costing no trust-policy quota) hold the
// record instead: before a write adds subjects, the stack tags the role with a hash of each; a
// later operation of the same stack on the role (diff, update, delete, refresh) takes what the
// record names and the role holds as owned; the record goes once an operation's answer owns it.
//
// Tags: `kubeflow-irsa:pending:<owner hash>:<n>`, the owner being the stack (see currentOwner), so
// two stacks on one role, also on one cluster, never read each other's record. Values: 8-character
// hashes (48 bits of SHA-256 over the provider ARN and the subject, base64url), 32 to a tag: the
// provider is in the hash, so a record is found whichever provider (cluster) the write was for.
// `kubeflow-irsa:pending:<owner hash>:at` holds when the record was last written (epoch seconds):
// an entry the role does not hold names a write that never landed only once IAM's reads have had
// time to show it (RECORD_HORIZON_MS); until then a lagging read may be hiding it.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html (50 tags per role, values ≤ 256).

import { createHash } from "crypto";
import type { HeldSubjects } from "./ownership";
import { presentSubjects, type PolicyDocument } from "../domain/trustPolicy";
import { trustedOidcProviders } from "../domain/policyReading";

export const INTENT_TAG_PREFIX = "kubeflow-irsa:pending:";
const HASH_CHARS = 8;
/** IAM's tag-value limit (256 characters) holds 32 hashes. */
const HASHES_PER_TAG = 32;

export interface Tag {
    Key: string;
    Value: string;
}

/** One stack's record on one role: the tag keys it holds, the hashes they name, and when it was written (ms). */
export interface IntentRecord {
    keys: string[];
    hashes: Set<string>;
    writtenAt?: number;
}

/**
 * How old a record must be before what it names and the role does not hold is taken for a write
 * that never landed: IAM's reads converge within seconds; this leaves a wide margin.
 */
export const RECORD_HORIZON_MS = 60_000;
const TIME_KEY = "at";

const digest = (text: string, chars: number) => createHash("sha256").update(text).digest("base64url").slice(0, chars);

/** The start of the tag keys of one stack's record. */
export function ownerPrefix(owner: string): string {
    return `${INTENT_TAG_PREFIX}${digest(owner, 12)}:`;
}

export function entryHash(providerArn: string, subject: string): string {
    return digest(`${providerArn}\n${subject}`, HASH_CHARS);
}

/** The hashes of every subject the document trusts under any OIDC provider, by hash. */
function heldByHash(document: PolicyDocument): Map<string, { providerArn: string; subject: string }> {
    const byHash = new Map<string, { providerArn: string; subject: string }>();
    for (const providerArn of trustedOidcProviders(document)) {
        for (const subject of presentSubjects(document, providerArn)) byHash.set(entryHash(providerArn, subject), { providerArn, subject });
    }
    return byHash;
}

/** The record of `owner` among a role's tags. */
export function recordOf(tags: readonly Tag[], owner: string): IntentRecord {
    const prefix = ownerPrefix(owner).toLowerCase();
    const mine = tags.filter((t) => t.Key.toLowerCase().startsWith(prefix));
    const hashes = new Set<string>();
    let writtenAt: number | undefined;
    for (const { Key, Value } of mine) {
        const suffix = Key.slice(prefix.length);
        if (suffix === TIME_KEY) writtenAt = /^[0-9]+$/.test(Value) ? Number(Value) * 1000 : undefined;
        else if (/^[0-9]+$/.test(suffix)) for (let i = 0; i + HASH_CHARS <= Value.length; i += HASH_CHARS) hashes.add(Value.slice(i, i + HASH_CHARS));
    }
    return { keys: mine.map((t) => t.Key), hashes, ...(writtenAt !== undefined ? { writtenAt } : {}) };
}

/** The tags that hold `hashes` as the record of `owner`, written at `writtenAt` (ms); none for no hashes. */
export function recordTags(owner: string, hashes: Iterable<string>, writtenAt: number): Tag[] {
    const sorted = [...new Set(hashes)].sort();
    const tags: Tag[] = [];
    for (let i = 0; i < sorted.length; i += HASHES_PER_TAG) tags.push({ Key: `${ownerPrefix(owner)}${tags.length}`, Value: sorted.slice(i, i + HASHES_PER_TAG).join("") });
    if (tags.length > 0) tags.push({ Key: `${ownerPrefix(owner)}${TIME_KEY}`, Value: String(Math.floor(writtenAt / 1000)) });
    return tags;
}

/** What the role trusts, under any OIDC provider, that the record names: what an unanswered write of the stack may have added. */
export function pendingSubjects(record: IntentRecord, document: PolicyDocument): HeldSubjects[] {
    if (record.hashes.size === 0) return [];
    const byProvider = new Map<string, string[]>();
    for (const [hash, { providerArn, subject }] of heldByHash(document)) {
        if (record.hashes.has(hash)) byProvider.set(providerArn, [...(byProvider.get(providerArn) ?? []), subject]);
    }
    return [...byProvider].map(([providerArn, subjects]) => ({ providerArn, subjects: subjects.sort() }));
}

/** What the record names that the document does not trust: a write that never landed, or one a lagging read hides. */
export function unheldHashes(record: IntentRecord, document: PolicyDocument): string[] {
    const held = heldByHash(document);
    return [...record.hashes].filter((h) => !held.has(h));
}

/** Whether what the record names and the role does not show may still be a write a lagging read hides. */
export function recent(record: IntentRecord, now: number): boolean {
    return record.writtenAt !== undefined && now - record.writtenAt < RECORD_HORIZON_MS;
}

/** The hashes of what `after` trusts, under any OIDC provider, that `before` does not: what a write of `after` adds. */
export function addedHashes(before: PolicyDocument, after: PolicyDocument): string[] {
    const had = heldByHash(before);
    return [...heldByHash(after).keys()].filter((h) => !had.has(h));
}
