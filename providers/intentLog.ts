// One operation's use of the stack's write-ahead record on a role (./intent holds the pure rules):
// read once, extended before each write that adds, put back after a write IAM refused, and cut
// down to what the answer will not own when the operation is done. The I/O shell of ./reconcile.

import { isAwsError, tagRole, untagRole, type createIamClient } from "./iam";
import { addedHashes, entryHash, pendingSubjects, recent, recordOf, recordTags, unheldHashes, type IntentRecord, type Tag } from "./intent";
import type { HeldSubjects } from "./ownership";
import type { PolicyDocument } from "../domain/trustPolicy";

/**
 * The record is read once (our own tag writes may read back late; no one else writes our keys)
 * and then kept here. Recording is best effort: without iam:TagRole, or past the role's 50 tags,
 * the write goes ahead as before with a warning, since refusing would block every `up`.
 */
export class IntentLog {
    private record: IntentRecord | undefined;
    private disabled = false;

    constructor(
        private readonly client: ReturnType<typeof createIamClient>,
        private readonly roleName: string,
        private readonly owner: string,
        private readonly context: string,
    ) {}

    /** What the role holds of what the record names, per provider. */
    read(tags: readonly Tag[], document: PolicyDocument): HeldSubjects[] {
        if (!this.owner) return [];
        this.record ??= recordOf(tags, this.owner);
        return pendingSubjects(this.record, document);
    }

    /** Before a write: record what it adds. Returns the record as it was, for `restore`. */
    async ahead(before: PolicyDocument, after: PolicyDocument): Promise<IntentRecord | undefined> {
        const record = this.record;
        if (!this.owner || !record || this.disabled) return undefined;
        const added = addedHashes(before, after).filter((h) => !record.hashes.has(h));
        if (added.length === 0) return undefined;
        try {
            await this.write(new Set([...record.hashes, ...added]), Date.now());
        } catch (err) {
            this.disabled = true;
            console.warn(
                `warning: ${this.context}: could not record what this write adds (iam:TagRole: ${(err as Error).message ?? String(err)}); ` +
                    "the write goes ahead, but if this process dies before Pulumi hears back, what it adds is owned by no state: " +
                    "allow iam:TagRole and iam:UntagRole on the role (README, Deployer permissions)",
            );
            return undefined;
        }
        return record;
    }

    /** After a write IAM refused: the record goes back to what it was before that write (best effort). */
    async restore(previous: IntentRecord | undefined): Promise<void> {
        if (!previous) return;
        await this.write(previous.hashes, previous.writtenAt ?? Date.now()).catch((err: unknown) => this.warn("put back the record of this stack", err));
    }

    /**
     * When the operation is done, the record keeps what `document` (the role as the operation
     * leaves it) holds and the answer will not own, and — unless `verified` (the document is our
     * own write read back) or the record is past the horizon — what the document does not show,
     * which a lagging first read may hide. Usually nothing is left, and the tags go (best effort).
     */
    async settle(document: PolicyDocument, answerOwns: (providerArn: string, subject: string) => boolean, verified: boolean): Promise<void> {
        const record = this.record;
        if (!record || record.hashes.size === 0) return;
        const held = pendingSubjects(record, document).flatMap(({ providerArn, subjects }) => subjects.filter((s) => !answerOwns(providerArn, s)).map((s) => entryHash(providerArn, s)));
        const unseen = verified || !recent(record, Date.now()) ? [] : unheldHashes(record, document);
        const kept = new Set([...held, ...unseen]);
        if (kept.size === record.hashes.size) return;
        await this.write(kept, record.writtenAt ?? Date.now()).catch((err: unknown) => this.warn(`update the tags ${record.keys.join(", ")}`, err));
    }

    /**
     * Makes the role's record name exactly `hashes`: tags written, keys no longer needed removed.
     * Without iam:UntagRole a key is emptied instead (TagRole with an empty value names nothing),
     * so a record never outlives what it names.
     */
    private async write(hashes: Set<string>, writtenAt: number): Promise<void> {
        const tags = recordTags(this.owner, hashes, writtenAt);
        const stale = (this.record?.keys ?? []).filter((k) => !tags.some((t) => t.Key === k));
        if (tags.length > 0) await tagRole(this.client, this.roleName, tags);
        if (stale.length > 0) {
            await untagRole(this.client, this.roleName, stale).catch(async (err: unknown) => {
                if (!isAwsError(err, "AccessDenied") && !isAwsError(err, "AccessDeniedException")) throw err;
                await tagRole(this.client, this.roleName, stale.map((Key) => ({ Key, Value: "" })));
            });
        }
        this.record = { keys: tags.map((t) => t.Key), hashes, writtenAt };
    }

    private warn(what: string, err: unknown): void {
        console.warn(`warning: ${this.context}: could not ${what} (${(err as Error).message ?? String(err)}); allow iam:TagRole and iam:UntagRole on the role, then run \`pulumi up\` again`);
    }
}
