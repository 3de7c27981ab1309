// The one read-modify-write a TrustSubjects operation makes on a role, and the checks before it:
// the ACLSizePerRole quota, the role's account, a document that cannot be edited. IAM calls go
// through ./iam; every decision about the document is ../domain/trustPolicy's.

import { createIamClient, explainAwsError, getTrustPolicy, isAwsError, putTrustPolicy, type AwsSettings } from "./iam";
import { IntentLog } from "./intentLog";
import type { HeldSubjects, TrustSubjectsInputs } from "./ownership";
import { isUnknown } from "./ownership";
import { parseOidcProviderArn, parseRoleRef, roleNameOf, sameRole } from "../domain/subjects";
import { applyTrustChanges, type TrustChange } from "../domain/trustChanges";
import { canonicalPolicy, MAX_POLICY_CHARS_LIMIT, policySize, presentSubjects, TrustPolicyError, type PolicyDocument } from "../domain/trustPolicy";

/** How long one reconcile may take in all, waits included, before it gives up with what it saw. */
const RECONCILE_DEADLINE_MS = 180_000;
/** Read-modify-write rounds before giving up on a role other writers keep changing. */
const MAX_WRITE_ROUNDS = 4;
/** How long a read may lag our own write before we stop taking it for IAM's eventual consistency. */
const CONSISTENCY_WAIT_MS = 15_000;
/** How long a create or update waits for a role IAM does not show yet (one just created may lag). */
const ROLE_VISIBLE_WAIT_MS = 10_000;
/**
 * An unknown document without our change counts as another writer's (not a lagging read) once
 * read SETTLED_READS times in a row and at least SETTLE_MS after our write: IAM's replicas
 * converge within seconds.
 */
const SETTLED_READS = 3;
const SETTLE_MS = 2000;
const SETTLE_DELAY_MS = 400;
const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 5000;

type QuotaInputs = Pick<TrustSubjectsInputs, "maxPolicyChars" | "subjects" | "providerArn"> & Partial<Pick<TrustSubjectsInputs, "anchors">>;

/** The quota message: role, size, limit, subject count and the fix. Undefined when it fits. */
export function quotaProblem(role: string, document: PolicyDocument, inputs: QuotaInputs): string | undefined {
    const size = policySize(document);
    if (size <= inputs.maxPolicyChars) return undefined;
    const issuer = parseOidcProviderArn(inputs.providerArn)?.issuer ?? inputs.providerArn;
    const raise =
        inputs.maxPolicyChars < MAX_POLICY_CHARS_LIMIT
            ? `raise the account's "Role trust policy length" quota (Service Quotas, IAM, code L-C07B4B0D; up to ${MAX_POLICY_CHARS_LIMIT}) and set kubeflow-irsa:trustPolicyMaxChars to the new quota, or `
            : "";
    // Subjects of this provider the config does not name here: moved profiles that still drain on
    // this role (make before break, ./moves), or another writer's. Finishing those moves frees them.
    const named = new Set([...inputs.subjects, ...(inputs.anchors ?? [])]);
    const others = isUnknown(inputs.providerArn) ? 0 : presentSubjects(document, inputs.providerArn).filter((s) => !named.has(s)).length;
    const drain =
        others > 0
            ? `finish the moves of profiles that still drain on this role (${others} subject${others > 1 ? "s" : ""} of ${issuer} in it that this role's config does not name: ` +
              "moved profiles kept until kubeflow-irsa:finishMoves, or another writer's; `npm run doctor -- --stack <stack>` lists what drains), or "
            : "";
    return (
        `${isUnknown(role) ? "the role" : `role "${roleNameOf(role)}"`}: the trust policy would be ${size} characters with ${inputs.subjects.length} subjects ` +
        `of this stack for ${issuer}, over the limit of ${inputs.maxPolicyChars} characters (ACLSizePerRole). ` +
        `Fix: ${drain}${raise}spread the profiles over more roles (kubeflow-irsa:userRoleShards for kf-user, or another awsIamRole for some profiles)`
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

/** Applies changes (see applyTrustChanges), with the operation and role in any refusal. */
function applyChanges(document: PolicyDocument, changes: TrustChange[], context: string): { document: PolicyDocument; changed: boolean } {
    try {
        return applyTrustChanges(document, changes);
    } catch (err) {
        if (err instanceof TrustPolicyError) throw new TrustPolicyError(`${context}: ${err.message}`);
        throw err;
    }
}

/**
 * What would stop the changes on the role's live document — over the quota, the wrong account, a
 * document left without statements — or undefined (also when the role does not exist yet). IAM
 * errors and programming errors throw.
 */
export async function liveProblem(settings: AwsSettings, inputs: TrustSubjectsInputs, changes: TrustChange[], operation: string): Promise<string | undefined> {
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
    /** What the role holds that an earlier, unanswered write of this stack recorded (./intent), as last read. */
    pending: HeldSubjects[];
}

/** The changes to make, given what an earlier unanswered write of the stack may have added (see ./intent). */
export type ChangePlan = TrustChange[] | ((pending: HeldSubjects[]) => TrustChange[]);

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
    /**
     * After our write reads back, keep reading this long before calling it done: another writer
     * (a second stack on a shared role) that read the document before our write landed writes
     * after it, and IAM has no conditional write to stop it. Its document, once settled, is
     * then seen, and our change is applied again on top of it. 0: done at the first read-back.
     */
    settleAfterWriteMs?: number;
    /**
     * The stack's write-ahead record on the role (./intent), when `inputs.owner` names the stack:
     * what an earlier, unanswered write recorded and the role holds is passed to the plan as
     * pending; before a write adds subjects they are recorded; when the operation is done the
     * record keeps only what the role still holds and the operation's answer will not own (a
     * delete that is then refused leaves the engine with the old state): `answerOwns` says which.
     * Default: the answer owns everything (create, update).
     */
    answerOwns?: (providerArn: string, subject: string) => boolean;
}

/** How long a write to a role other writers may share is watched after it reads back (see ReconcileOptions). */
export const WRITE_SETTLE_MS = 3000;

/** The settle window: WRITE_SETTLE_MS, or KUBEFLOW_IRSA_WRITE_SETTLE_MS (milliseconds; the tests' local IAM answers in microseconds). */
export function writeSettleMs(): number {
    const configured = Number(process.env.KUBEFLOW_IRSA_WRITE_SETTLE_MS);
    return process.env.KUBEFLOW_IRSA_WRITE_SETTLE_MS !== undefined && Number.isFinite(configured) && configured >= 0 ? configured : WRITE_SETTLE_MS;
}

/**
 * Read, apply the changes, write, and read again to verify. IAM has no conditional write, and its
 * reads are eventually consistent and need not be monotonic: a read after our write may show our
 * document, the one it replaced, or one older still, and the next read another again. So the loop
 * keeps the document it takes for current (`latest`: the first read, then our write, then a
 * settled other one) and every document it knows to be replaced, and writes only on `latest`:
 * - a read of `latest` with our change (our write read back): done;
 * - a read of a replaced document: the read lags; wait and read again (up to CONSISTENCY_WAIT_MS);
 * - a read of another document: another writer's, or a lagging read of one we never saw. It is
 *   waited out until one document is read SETTLED_READS times in a row and SETTLE_MS after
 *   `latest` was set (IAM's replicas converge within seconds); while two documents answer,
 *   not even our own write counts as verified. A settled other document becomes `latest`: if it
 *   holds our change, done; if not, another writer replaced ours (a lost update), and after a
 *   jittered backoff our change is applied on top of it, once a read shows it again.
 * `ConcurrentModification` is retried like a lost update; throttling, 5xx and dropped connections
 * inside the SDK. Returns undefined when the role does not exist (a role seen or written here that
 * then vanishes is an error). `progress` tells the caller, also when this throws, whether a write
 * may have landed. A writer that changed the role just before our first read may still be
 * overwritten when that read lagged: IAM offers nothing to tell.
 */
export async function reconcile(
    settings: AwsSettings,
    inputs: TrustSubjectsInputs,
    plan: ChangePlan,
    operation: string,
    progress: WriteProgress = { sent: false },
    options: ReconcileOptions = {},
): Promise<ReconcileResult | undefined> {
    const client = createIamClient(settings);
    const roleName = roleNameOf(inputs.role);
    const context = `${operation} of role "${roleName}"`;
    const intent = new IntentLog(client, roleName, inputs.owner, context);
    let writes = 0;
    let retries = 0;
    let waits = 0;
    let lastSeen = Date.now();
    /** The document taken for current (first read, our last write, or a settled other one), since when, and whether it is ours. */
    let latest: { document: string; at: number; ours: boolean } | undefined;
    /** Documents known to be replaced: a read that returns one lags. */
    const replaced = new Set<string>();
    /** Identical reads in a row, and whether a document other than `latest` (and not replaced) was read since `latest` was set. */
    let run = { document: "", reads: 0 };
    let contested = false;
    const settled = (document: string) => run.document === document && run.reads >= SETTLED_READS && Date.now() - latest!.at >= SETTLE_MS;
    const started = Date.now();
    try {
        for (;;) {
            if (Date.now() - started > RECONCILE_DEADLINE_MS) {
                throw new Error(
                    `${context}: gave up after ${RECONCILE_DEADLINE_MS / 1000} s: IAM's reads of the role did not settle on one document (${writes} write${writes === 1 ? "" : "s"} sent${progress.sent ? ", so it may hold our change" : ""}); ` +
                        "another writer may be changing it over and over: find it (CloudTrail, UpdateAssumeRolePolicy on this role), then run `pulumi up` again",
                );
            }
            const current = await getTrustPolicy(client, roleName);
            if (!current) {
                // A role created moments ago may not be visible yet. One seen or written here
                // exists unless someone deleted it: wait either way, then say which.
                const known = latest !== undefined || progress.sent;
                if ((options.awaitRole || known) && Date.now() - lastSeen < ROLE_VISIBLE_WAIT_MS) {
                    await sleep(backoff(++waits));
                    continue;
                }
                if (!known) return undefined;
                throw new Error(`${context}: the role disappeared (iam:GetRole answers NoSuchEntity) after it was read${progress.sent ? " and written" : ""}; find out who deleted it, then run \`pulumi up\` again`);
            }
            lastSeen = Date.now();
            Object.assign(progress, { roleArn: current.roleArn, document: current.document });
            const wrongAccount = accountProblem(inputs.role, current.roleArn);
            if (wrongAccount) throw new Error(wrongAccount);
            const seen = canonicalPolicy(current.document);
            run = run.document === seen ? { document: seen, reads: run.reads + 1 } : { document: seen, reads: 1 };
            latest ??= { document: seen, at: Date.now(), ours: false };
            const pending = intent.read(current.tags, current.document);
            const edit = applyChanges(current.document, typeof plan === "function" ? plan(pending) : plan, context);
            const done = async (): Promise<ReconcileResult> => {
                // After our own write read back the document is what IAM holds; a first read may lag.
                await intent.settle(current.document, options.answerOwns ?? (() => true), writes > 0);
                return { roleArn: current.roleArn, document: current.document, writes, pending };
            };

            if (seen !== latest.document) {
                if (replaced.has(seen) && Date.now() - latest.at < CONSISTENCY_WAIT_MS) {
                    await sleep(backoff(++waits)); // an older document: the read lags
                    continue;
                }
                // Unknown: another writer's document, or one older than any we saw (IAM's reads
                // need not be monotonic). Only one read the same for a while is taken for current.
                contested = true;
                if (!settled(seen)) {
                    await sleep(SETTLE_DELAY_MS * (0.5 + Math.random()));
                    continue;
                }
                const lost = latest.ours;
                replaced.add(latest.document);
                replaced.delete(seen);
                latest = { document: seen, at: Date.now(), ours: false };
                contested = false;
                if (!edit.changed) return done(); // built on ours
                if (lost) {
                    if (++retries > MAX_WRITE_ROUNDS) throw lostUpdates(operation, roleName, retries);
                    await sleep(backoff(retries));
                    continue; // write on it once a read shows it again, never on a read from before the wait
                }
            } else if (contested && !settled(seen)) {
                await sleep(SETTLE_DELAY_MS * (0.5 + Math.random())); // two documents answer: wait for one to settle
                continue;
            } else if (latest.ours && !edit.changed && Date.now() - latest.at < (options.settleAfterWriteMs ?? 0)) {
                // Our write reads back; a writer that read before it may still write over it.
                await sleep(Math.min(SETTLE_DELAY_MS * (0.5 + Math.random()), Math.max(1, latest.at + options.settleAfterWriteMs! - Date.now())));
                continue;
            }
            if (!edit.changed) return done();
            const problem = editQuotaProblem(roleName, current.document, edit.document, inputs);
            if (problem) throw new Error(problem);
            const recordBefore = await intent.ahead(current.document, edit.document);
            const sentBefore = progress.sent;
            progress.sent = true;
            try {
                await putTrustPolicy(client, roleName, edit.document);
                writes++;
                replaced.add(seen);
                latest = { document: canonicalPolicy(edit.document), at: Date.now(), ours: true };
                contested = false;
            } catch (err) {
                if (refused(err)) {
                    progress.sent = sentBefore;
                    await intent.restore(recordBefore); // nothing landed: the record must not name what this write would have added
                }
                if (isAwsError(err, "NoSuchEntity") && !progress.sent) return undefined;
                if (!isAwsError(err, "ConcurrentModification") && !isAwsError(err, "NoSuchEntity")) throw explainAwsError(err, "iam:UpdateAssumeRolePolicy", roleName);
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
