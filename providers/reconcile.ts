// The one read-modify-write a TrustSubjects operation makes on a role, and the checks before it:
// the ACLSizePerRole quota, the role's account, a document that cannot be edited. IAM calls go
// through ./iam; every decision about the document is ./trustPolicy's.

import { createIamClient, explainAwsError, getTrustPolicy, isAwsError, putTrustPolicy, type AwsSettings } from "./iam";
import type { TrustSubjectsInputs } from "./ownership";
import { isUnknown } from "./ownership";
import { parseOidcProviderArn, parseRoleRef, roleNameOf, sameRole } from "./subjects";
import { applySubjectChange, canonicalPolicy, MAX_POLICY_CHARS_LIMIT, policySize, TrustPolicyError, type PolicyDocument, type SubjectChange } from "./trustPolicy";

/** Read-modify-write rounds before giving up on a role other writers keep changing. */
const MAX_WRITE_ROUNDS = 6;
/** How long a read may lag our own write before we stop taking it for IAM's eventual consistency. */
const CONSISTENCY_WAIT_MS = 15_000;
/** How long a create or update waits for a role IAM does not show yet (one just created may lag). */
const ROLE_VISIBLE_WAIT_MS = 10_000;
const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 5000;

type QuotaInputs = Pick<TrustSubjectsInputs, "maxPolicyChars" | "subjects" | "providerArn">;

/** The quota message: role, size, limit, subject count and the fix. Undefined when it fits. */
export function quotaProblem(role: string, document: PolicyDocument, inputs: QuotaInputs): string | undefined {
    const size = policySize(document);
    if (size <= inputs.maxPolicyChars) return undefined;
    const issuer = parseOidcProviderArn(inputs.providerArn)?.issuer ?? inputs.providerArn;
    const raise =
        inputs.maxPolicyChars < MAX_POLICY_CHARS_LIMIT
            ? `raise the account's "Role trust policy length" quota (Service Quotas, IAM, code L-C07B4B0D; up to ${MAX_POLICY_CHARS_LIMIT}) and set kubeflow-irsa:trustPolicyMaxChars to the new quota, or `
            : "";
    return (
        `${isUnknown(role) ? "the role" : `role "${roleNameOf(role)}"`}: the trust policy would be ${size} characters with ${inputs.subjects.length} subjects ` +
        `of this stack for ${issuer}, over the limit of ${inputs.maxPolicyChars} characters (ACLSizePerRole). ` +
        `Fix: ${raise}spread the profiles over more roles (kubeflow-irsa:userRoleShards for kf-user, or another awsIamRole for some profiles)`
    );
}

/**
 * The quota problem of an edit, if any. Only growth is refused: a document that IAM already holds
 * above `maxPolicyChars` (its real quota is higher than configured) may still shrink.
 */
function editQuotaProblem(role: string, before: PolicyDocument, after: PolicyDocument, inputs: QuotaInputs): string | undefined {
    if (policySize(after) <= policySize(before)) return undefined;
    return quotaProblem(role, after, inputs);
}

/**
 * Why the role IAM answered with is not the configured one: a role ARN of another account than
 * the credentials reach. Editing the same-named role there would trust the namespace in the
 * wrong account.
 */
export function accountProblem(configured: string, actualArn: string): string | undefined {
    if (sameRole(configured, actualArn)) return undefined;
    const account = parseRoleRef(configured)?.accountId;
    return (
        `role "${configured}": the credentials in use reach ${actualArn} instead, in account ${parseRoleRef(actualArn)?.accountId ?? "?"}; ` +
        `run with credentials for account ${account} (aws:profile / aws:assumeRoles in the stack config), or fix the role ARN`
    );
}

/** Applies changes in order (additions first keep the document non-empty). */
function applyChanges(document: PolicyDocument, changes: SubjectChange[], context: string): { document: PolicyDocument; changed: boolean } {
    let result = { document, changed: false };
    for (const change of changes) {
        try {
            const edit = applySubjectChange(result.document, change);
            result = { document: edit.document, changed: result.changed || edit.changed };
        } catch (err) {
            if (err instanceof TrustPolicyError) throw new TrustPolicyError(`${context}: ${err.message}`);
            throw err;
        }
    }
    return result;
}

/**
 * What would stop the changes on the role's live document — over the quota, the wrong account, a
 * document left without statements — or undefined (also when the role does not exist yet). IAM
 * errors and programming errors throw.
 */
export async function liveProblem(settings: AwsSettings, inputs: TrustSubjectsInputs, changes: SubjectChange[], operation: string): Promise<string | undefined> {
    const client = createIamClient(settings);
    let current;
    try {
        current = await getTrustPolicy(client, roleNameOf(inputs.role));
    } finally {
        client.destroy();
    }
    if (!current) return undefined;
    const wrongAccount = accountProblem(inputs.role, current.roleArn);
    if (wrongAccount) return wrongAccount;
    try {
        const edit = applyChanges(current.document, changes, `${operation} of role "${roleNameOf(inputs.role)}"`);
        return editQuotaProblem(inputs.role, current.document, edit.document, inputs);
    } catch (err) {
        if (err instanceof TrustPolicyError) return err.message;
        throw err;
    }
}

/** What a reconcile got to, for the caller to tell what IAM may hold when it fails. */
export interface WriteProgress {
    /** A write was sent that IAM may have applied (it did not answer with a refusal). */
    sent: boolean;
    /** The role's ARN and document as last read. */
    roleArn?: string;
    document?: PolicyDocument;
}

export interface ReconcileResult {
    roleArn: string;
    document: PolicyDocument;
    writes: number;
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Full jitter: a random wait up to an exponentially growing cap. */
function backoff(round: number): number {
    return Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** round);
}

/**
 * Whether IAM answered the write with a refusal, so it was certainly not applied: an error
 * response below 500 on the first and only attempt. A dropped connection, a 5xx or a refusal
 * after SDK retries may follow an attempt that IAM applied.
 */
function refused(err: unknown): boolean {
    const meta = (err as { $metadata?: { httpStatusCode?: number; attempts?: number } } | undefined)?.$metadata;
    const status = meta?.httpStatusCode;
    return status !== undefined && status >= 400 && status < 500 && (meta?.attempts ?? 1) <= 1;
}

export interface ReconcileOptions {
    /** Wait a while for a role IAM does not show yet (create, update) instead of concluding it is gone. */
    awaitRole?: boolean;
}

/**
 * Read, apply the changes, write, and read again to verify. IAM has no conditional write, and its
 * reads are eventually consistent, so the verifying read can show three things:
 * - our change (or more): done;
 * - the very document our write replaced: the read lags the write; wait and read again, without
 *   writing (writing again would undo what others wrote meanwhile), for up to CONSISTENCY_WAIT_MS;
 * - another document without our change: another writer replaced ours (a lost update); after a
 *   jittered backoff, read afresh and re-apply our change on top of theirs.
 * `ConcurrentModification` is retried like a lost update; throttling, 5xx and dropped connections
 * inside the SDK. The backoff always comes before a fresh read, never between a read and the write
 * built on it. Returns undefined when the role does not exist. `progress` tells the caller, also
 * when this throws, whether a write may have landed.
 */
export async function reconcile(
    settings: AwsSettings,
    inputs: TrustSubjectsInputs,
    changes: SubjectChange[],
    operation: string,
    progress: WriteProgress = { sent: false },
    options: ReconcileOptions = {},
): Promise<ReconcileResult | undefined> {
    const client = createIamClient(settings);
    const roleName = roleNameOf(inputs.role);
    const started = Date.now();
    let writes = 0;
    let retries = 0;
    let waits = 0;
    /** The document our last write replaced, and when we wrote, while it is unverified. */
    let pending: { replaced: string; at: number } | undefined;
    try {
        for (;;) {
            const current = await getTrustPolicy(client, roleName);
            if (!current) {
                // A role created moments ago may not be visible yet; one we wrote to exists.
                if ((options.awaitRole || progress.sent) && Date.now() - started < ROLE_VISIBLE_WAIT_MS) {
                    await sleep(backoff(++waits));
                    continue;
                }
                return undefined;
            }
            Object.assign(progress, { roleArn: current.roleArn, document: current.document });
            const wrongAccount = accountProblem(inputs.role, current.roleArn);
            if (wrongAccount) throw new Error(wrongAccount);
            const edit = applyChanges(current.document, changes, `${operation} of role "${roleName}"`);
            if (!edit.changed) return { roleArn: current.roleArn, document: current.document, writes };
            if (pending) {
                const stale = canonicalPolicy(current.document) === pending.replaced;
                if (stale && Date.now() - pending.at < CONSISTENCY_WAIT_MS) {
                    await sleep(backoff(++waits));
                    continue;
                }
                pending = undefined;
                if (++retries > MAX_WRITE_ROUNDS) throw lostUpdates(operation, roleName, retries);
                await sleep(backoff(retries));
                continue; // re-read after the wait: never write on a document read before it
            }
            const problem = editQuotaProblem(roleName, current.document, edit.document, inputs);
            if (problem) throw new Error(problem);
            const sentBefore = progress.sent;
            progress.sent = true;
            try {
                await putTrustPolicy(client, roleName, edit.document);
                writes++;
                pending = { replaced: canonicalPolicy(current.document), at: Date.now() };
            } catch (err) {
                if (refused(err)) progress.sent = sentBefore;
                if (isAwsError(err, "NoSuchEntity")) return undefined;
                if (!isAwsError(err, "ConcurrentModification")) throw explainAwsError(err, "iam:UpdateAssumeRolePolicy", roleName);
                if (++retries > MAX_WRITE_ROUNDS) throw lostUpdates(operation, roleName, retries);
                await sleep(backoff(retries));
            }
        }
    } finally {
        client.destroy();
    }
}

function lostUpdates(operation: string, roleName: string, rounds: number): Error {
    return new Error(
        `${operation} of role "${roleName}": another writer kept replacing the trust policy (${rounds} rounds); ` +
            "find who else edits it (for example a Kubeflow profile controller without annotateOnly) and run `pulumi up` again",
    );
}
