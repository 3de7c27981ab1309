// The TrustSubjects dynamic resource: a set of service-account subjects this stack owns in one IAM
// role's trust policy for one OIDC provider. The provider is a thin shell: IAM reads and writes
// here, every decision about the document in ./trustPolicy.
//
// Pulumi host facts this relies on (pulumi/pulumi sdk/nodejs/cmd/dynamic-provider):
// - the provider object is serialized with what it captures and loaded with
//   `require-from-string(text).handler()`, then `configure({config})` is called once;
// - `diff` and `update` receive the old *outputs*; `read` and `delete` run the code in state;
// - during preview unknown inputs arrive as the string below, even where an array is expected.

import * as pulumi from "@pulumi/pulumi";
import {
    awsSettingsFromConfig,
    createIamClient,
    explainAwsError,
    getTrustPolicy,
    isAwsError,
    putTrustPolicy,
    type AwsSettings,
} from "./iam";
import {
    applySubjectChange,
    buildTrustPolicy,
    canonicalPolicy,
    DEFAULT_MAX_POLICY_CHARS,
    MAX_POLICY_CHARS_LIMIT,
    policySize,
    presentSubjects,
    TrustPolicyError,
    type PolicyDocument,
    type SubjectChange,
} from "./trustPolicy";
import { oidcProviderArnProblem, parseOidcProviderArn, parseRoleRef, roleNameOf, subjectProblem } from "./subjects";

/** How the Pulumi engine spells an unknown value (a preview-time Output) to a dynamic provider. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** Read-modify-write rounds before giving up on a role other writers keep changing. */
const MAX_WRITE_ROUNDS = 6;
/** How long a read may lag our own write before we stop taking it for IAM's eventual consistency. */
const CONSISTENCY_WAIT_MS = 15_000;
const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 5000;

export interface TrustSubjectsArgs {
    /** The role, by name or ARN; it may belong to this stack or be managed elsewhere. */
    role: pulumi.Input<string>;
    /** The IAM OIDC provider of the cluster whose service accounts are trusted. */
    providerArn: pulumi.Input<string>;
    /** `system:serviceaccount:<namespace>:<name>` values this resource owns. */
    subjects: pulumi.Input<pulumi.Input<string>[]>;
    /** The account's ACLSizePerRole quota. @default 2048 */
    maxPolicyChars?: pulumi.Input<number>;
    /** Accept `*` and `?` in subjects (written under StringLike). @default false */
    allowWildcards?: pulumi.Input<boolean>;
    /**
     * Subjects the role must always trust: added like `subjects`, never removed by this resource
     * (not even on delete), so the role's trust policy never runs empty. @default []
     */
    anchors?: pulumi.Input<pulumi.Input<string>[]>;
}

/** Inputs after `check`: plain, validated, normalized. */
export interface TrustSubjectsInputs {
    role: string;
    providerArn: string;
    subjects: string[];
    maxPolicyChars: number;
    allowWildcards: boolean;
    anchors: string[];
}

export interface TrustSubjectsOutputs extends TrustSubjectsInputs {
    /** The role's name (what IAM's API takes). */
    roleName: string;
    roleArn: string;
    /** Characters of the role's trust policy as last written or read. */
    policyChars: number;
}


/**
 * Whether two references name one role. IAM role names are case-insensitive ("KfUser" and
 * "kfuser" are one role); an ARN also fixes the account, a bare name does not.
 */
function sameRole(a: string, b: string): boolean {
    const [ra, rb] = [parseRoleRef(a), parseRoleRef(b)];
    if (!ra || !rb) return a === b;
    if (ra.accountId && rb.accountId && ra.accountId !== rb.accountId) return false;
    return ra.name.toLowerCase() === rb.name.toLowerCase();
}

/**
 * Fails when the configured role is an ARN in another account than the role the credentials
 * reached: editing a same-named role of the wrong account would trust the namespace there.
 */
function assertSameAccount(configured: string, actualArn: string): void {
    if (sameRole(configured, actualArn)) return;
    const account = parseRoleRef(configured)?.accountId;
    throw new Error(
        `role "${configured}": the credentials in use reach ${actualArn} instead, in account ${parseRoleRef(actualArn)?.accountId ?? "?"}; ` +
            `run with credentials for account ${account} (aws:profile / aws:assumeRoles in the stack config), or fix the role ARN`,
    );
}

/**
 * Inputs as `check` leaves them, for callers that skip `check` (the engine never does): defaults
 * applied, subjects deduplicated and sorted. Unknown values pass through.
 */
function normalized<T extends TrustSubjectsInputs>(inputs: T): T {
    return {
        ...inputs,
        subjects: Array.isArray(inputs.subjects) ? [...new Set(inputs.subjects)].sort() : (inputs.subjects ?? []),
        maxPolicyChars: inputs.maxPolicyChars ?? DEFAULT_MAX_POLICY_CHARS,
        allowWildcards: inputs.allowWildcards ?? false,
        anchors: Array.isArray(inputs.anchors) ? [...new Set(inputs.anchors)].sort() : (inputs.anchors ?? []),
    };
}

/** Everything the resource makes the role trust: its subjects and its anchors. */
function trusted(inputs: TrustSubjectsInputs): string[] {
    return isUnknown(inputs.subjects) || isUnknown(inputs.anchors) ? [] : [...new Set([...inputs.subjects, ...inputs.anchors])];
}

function resourceId(inputs: TrustSubjectsInputs): string {
    return `${roleNameOf(inputs.role)}|${inputs.providerArn}`;
}

function isUnknown(value: unknown): boolean {
    return value === UNKNOWN || (Array.isArray(value) && value.includes(UNKNOWN));
}

function sameSubjects(a: readonly string[], b: readonly string[]): boolean {
    const set = new Set(a);
    return set.size === new Set(b).size && b.every((s) => set.has(s));
}

/**
 * Validates and normalizes inputs. Returns the failures Pulumi shows per property; unknown values
 * (preview) are passed through unchecked.
 */
export function checkInputs(news: Record<string, unknown>): { inputs: TrustSubjectsInputs; failures: pulumi.dynamic.CheckFailure[] } {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const role = news.role;
    if (typeof role !== "string" || (role !== UNKNOWN && !parseRoleRef(role))) {
        failures.push({
            property: "role",
            reason: `${JSON.stringify(role)} is neither an IAM role name (1–64 of [A-Za-z0-9+=,.@_-]) nor a role ARN ("arn:aws:iam::<account>:role/<name>")`,
        });
    }
    const providerArn = news.providerArn;
    const providerProblem = typeof providerArn !== "string" ? "providerArn is required" : providerArn === UNKNOWN ? undefined : oidcProviderArnProblem(providerArn);
    if (providerProblem) failures.push({ property: "providerArn", reason: providerProblem });

    const allowWildcards = news.allowWildcards === undefined ? false : news.allowWildcards;
    if (typeof allowWildcards !== "boolean" && allowWildcards !== UNKNOWN) {
        failures.push({ property: "allowWildcards", reason: `${JSON.stringify(allowWildcards)} is not a boolean` });
    }
    const maxPolicyChars = news.maxPolicyChars === undefined ? DEFAULT_MAX_POLICY_CHARS : news.maxPolicyChars;
    if (maxPolicyChars !== UNKNOWN && (!Number.isInteger(maxPolicyChars) || (maxPolicyChars as number) < DEFAULT_MAX_POLICY_CHARS || (maxPolicyChars as number) > MAX_POLICY_CHARS_LIMIT)) {
        failures.push({
            property: "maxPolicyChars",
            reason: `${JSON.stringify(maxPolicyChars)} is not the account's trust-policy quota: IAM allows ${DEFAULT_MAX_POLICY_CHARS} by default and at most ${MAX_POLICY_CHARS_LIMIT}`,
        });
    }

    // An unknown allowWildcards (preview) is checked at `up`, when it is known.
    const wildcardsOk = allowWildcards === true || allowWildcards === UNKNOWN;
    const subjects = checkSubjectList("subjects", news.subjects, wildcardsOk, failures);
    const anchors = news.anchors === undefined ? [] : checkSubjectList("anchors", news.anchors, wildcardsOk, failures);

    const inputs: TrustSubjectsInputs = {
        role: role as string,
        providerArn: providerArn as string,
        subjects,
        maxPolicyChars: maxPolicyChars as number,
        allowWildcards: allowWildcards as boolean,
        anchors,
    };
    // The project's statement alone must fit: known before any IAM call.
    const all = trusted(inputs);
    if (failures.length === 0 && all.length > 0 && !isUnknown(providerArn) && maxPolicyChars !== UNKNOWN) {
        const alone = buildTrustPolicy(inputs.providerArn, all);
        const problem = quotaProblem(inputs.role, alone, inputs);
        if (problem) failures.push({ property: "subjects", reason: problem });
    }
    return { inputs, failures };
}

/** A validated, deduplicated, sorted list of subjects; an unknown list passes through. */
function checkSubjectList(property: string, value: unknown, wildcardsOk: boolean, failures: pulumi.dynamic.CheckFailure[]): string[] {
    if (value === UNKNOWN) return value as unknown as string[];
    if (!Array.isArray(value)) {
        failures.push({ property, reason: `${property} must be a list of service-account subjects` });
        return [];
    }
    for (const subject of value) {
        if (subject === UNKNOWN) continue;
        const problem = typeof subject === "string" ? subjectProblem(subject, wildcardsOk) : `${JSON.stringify(subject)} is not a string`;
        if (problem) failures.push({ property, reason: problem });
    }
    return [...new Set(value as string[])].sort();
}

/** The quota message: role, size, limit, subject count and the fix. Undefined when it fits. */
export function quotaProblem(role: string, document: PolicyDocument, inputs: Pick<TrustSubjectsInputs, "maxPolicyChars" | "subjects" | "providerArn">): string | undefined {
    const size = policySize(document);
    if (size <= inputs.maxPolicyChars) return undefined;
    const issuer = parseOidcProviderArn(inputs.providerArn)?.issuer ?? inputs.providerArn;
    const raise = inputs.maxPolicyChars < MAX_POLICY_CHARS_LIMIT
        ? `raise the account's "Role trust policy length" quota to ${MAX_POLICY_CHARS_LIMIT} in Service Quotas and set kubeflow-irsa:trustPolicyMaxChars to ${MAX_POLICY_CHARS_LIMIT}, or `
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
function editQuotaProblem(role: string, before: PolicyDocument, after: PolicyDocument, inputs: Pick<TrustSubjectsInputs, "maxPolicyChars" | "subjects" | "providerArn">): string | undefined {
    if (policySize(after) <= policySize(before)) return undefined;
    return quotaProblem(role, after, inputs);
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Full jitter: a random wait up to an exponentially growing cap. */
function backoff(round: number): number {
    return Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** round);
}

/** Applies changes in order (additions before removals keep the document non-empty). */
function applyChanges(document: PolicyDocument, changes: SubjectChange[], context: string): { document: PolicyDocument; changed: boolean } {
    let result = { document, changed: false };
    for (const change of changes) {
        try {
            const edit = applySubjectChange(result.document, change);
            result = { document: edit.document, changed: result.changed || edit.changed };
        } catch (err) {
            if (err instanceof TrustPolicyError) throw new Error(`${context}: ${err.message}`);
            throw err;
        }
    }
    return result;
}

/**
 * What an update does: ensure every new subject, remove the dropped ones, and when the cluster's
 * OIDC provider changed on the same role, move the subjects to it in the same single write.
 */
function updateChanges(olds: TrustSubjectsOutputs, news: TrustSubjectsInputs): SubjectChange[] {
    const keep = trusted(news);
    const dropped = removable(olds).filter((s) => olds.providerArn !== news.providerArn || !keep.includes(s));
    if (olds.providerArn === news.providerArn) return [{ providerArn: news.providerArn, add: keep, remove: dropped }];
    return [
        { providerArn: news.providerArn, add: keep, remove: [] },
        { providerArn: olds.providerArn, add: [], remove: dropped },
    ];
}

/** What this resource may ever remove: its subjects, never its anchors. */
function removable(state: TrustSubjectsInputs): string[] {
    return state.subjects.filter((s) => !state.anchors.includes(s));
}

/**
 * What would stop the changes on the role's live document — over the quota, the wrong account,
 * nothing left — or undefined (also when the role does not exist yet). Only IAM errors throw.
 */
async function liveProblem(settings: AwsSettings, inputs: TrustSubjectsInputs, changes: SubjectChange[], operation: string): Promise<string | undefined> {
    const client = createIamClient(settings);
    let current;
    try {
        current = await getTrustPolicy(client, roleNameOf(inputs.role));
    } finally {
        client.destroy();
    }
    if (!current) return undefined;
    try {
        assertSameAccount(inputs.role, current.roleArn);
        const edit = applyChanges(current.document, changes, `${operation} of role "${roleNameOf(inputs.role)}"`);
        return editQuotaProblem(inputs.role, current.document, edit.document, inputs);
    } catch (err) {
        return (err as Error).message;
    }
}

export interface ReconcileResult {
    roleArn: string;
    document: PolicyDocument;
    writes: number;
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
 * built on it.
 */
export async function reconcile(settings: AwsSettings, inputs: TrustSubjectsInputs, changes: SubjectChange[], operation: string): Promise<ReconcileResult | undefined> {
    const client = createIamClient(settings);
    const roleName = roleNameOf(inputs.role);
    let writes = 0;
    let retries = 0;
    let waits = 0;
    /** The document our last write replaced, and when we wrote, while it is unverified. */
    let pending: { replaced: string; at: number } | undefined;
    try {
        for (;;) {
            const current = await getTrustPolicy(client, roleName);
            if (!current) return undefined;
            assertSameAccount(inputs.role, current.roleArn);
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
            try {
                await putTrustPolicy(client, roleName, edit.document);
                writes++;
                pending = { replaced: canonicalPolicy(current.document), at: Date.now() };
            } catch (err) {
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

function outputsOf(inputs: TrustSubjectsInputs, result: ReconcileResult): TrustSubjectsOutputs {
    return {
        ...inputs,
        roleName: roleNameOf(inputs.role),
        roleArn: result.roleArn,
        policyChars: policySize(result.document),
    } satisfies TrustSubjectsOutputs;
}

function missingRole(operation: string, roleName: string): Error {
    return new Error(`${operation}: role "${roleName}" does not exist; create it first, or point awsIamRole at an existing role`);
}

/** The provider, as an object the Pulumi host loads and calls. */
export function trustSubjectsProvider(): pulumi.dynamic.ResourceProvider<TrustSubjectsInputs, TrustSubjectsOutputs> {
    // Filled in by `configure` after the host has loaded this object; never serialized with values.
    const session: { settings: AwsSettings } = { settings: { assumeRoles: [] } };

    return {
        async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
            session.settings = awsSettingsFromConfig((key) => req.config.get(key));
        },

        async check(olds: TrustSubjectsInputs, news: TrustSubjectsInputs): Promise<pulumi.dynamic.CheckResult<TrustSubjectsInputs>> {
            const { inputs, failures } = checkInputs(news as unknown as Record<string, unknown>);
            // A create has no diff, so its preview-time quota check against the live role is here.
            // Only for creates: `check` runs for every resource on every preview, and an
            // unchanged `up` must make no IAM call.
            const creating = !olds || Object.keys(olds).length === 0;
            if (creating && failures.length === 0 && ![inputs.role, inputs.providerArn, inputs.subjects, inputs.anchors, inputs.maxPolicyChars].some(isUnknown)) {
                // Reading is best effort here; `create` reads again and reports IAM errors.
                const problem = await liveProblem(session.settings, inputs, [{ providerArn: inputs.providerArn, add: trusted(inputs), remove: [] }], "create").catch(() => undefined);
                if (problem) failures.push({ property: "subjects", reason: problem });
            }
            return { inputs, failures };
        },

        async diff(_id: string, oldOutputs: TrustSubjectsOutputs, newInputs: TrustSubjectsInputs): Promise<pulumi.dynamic.DiffResult> {
            const [olds, news] = [normalized(oldOutputs), normalized(newInputs)];
            const replaces = [
                ...(isUnknown(news.role) || !sameRole(olds.role, news.role) ? ["role"] : []),
                ...(isUnknown(news.providerArn) || olds.providerArn !== news.providerArn ? ["providerArn"] : []),
            ];
            if (replaces.length > 0) {
                // Another role or cluster: the new one gains (create), then the old one loses
                // (delete), so no pod is ever without trust. The create's own check ran with old
                // inputs, so the target is measured here: with the old statement still in place
                // when the cluster changes on the same role.
                if (![news.role, news.providerArn, news.subjects, news.anchors, news.maxPolicyChars].some(isUnknown)) {
                    const problem = await liveProblem(session.settings, news, [{ providerArn: news.providerArn, add: trusted(news), remove: [] }], "create");
                    if (problem) throw new Error(problem);
                }
                return { changes: true, replaces, deleteBeforeReplace: false };
            }
            if (isUnknown(news.subjects) || isUnknown(news.anchors)) return { changes: true };
            if (sameSubjects(olds.subjects, news.subjects) && sameSubjects(olds.anchors, news.anchors)) return { changes: false };
            // Preview-time quota check against the live document: fail now, not half-way through `up`.
            if (!isUnknown(news.maxPolicyChars)) {
                const problem = await liveProblem(session.settings, news, updateChanges(olds, news), "update");
                if (problem) throw new Error(problem);
            }
            return { changes: true };
        },

        async create(checked: TrustSubjectsInputs): Promise<pulumi.dynamic.CreateResult<TrustSubjectsOutputs>> {
            const inputs = normalized(checked);
            const result = await reconcile(session.settings, inputs, [{ providerArn: inputs.providerArn, add: trusted(inputs), remove: [] }], "create");
            if (!result) throw missingRole("create", roleNameOf(inputs.role));
            return { id: resourceId(inputs), outs: outputsOf(inputs, result) };
        },

        async read(id: string, props?: TrustSubjectsOutputs): Promise<pulumi.dynamic.ReadResult<TrustSubjectsOutputs>> {
            // Without state (an import by id "<role name>|<provider ARN>") nothing is owned yet: the
            // role's subjects may belong to kfctl, other stacks or people, so none is claimed.
            const [idRole, idProvider] = id.split("|");
            const role = props?.role ?? idRole;
            const providerArn = props?.providerArn ?? idProvider;
            const client = createIamClient(session.settings);
            try {
                const current = await getTrustPolicy(client, roleNameOf(role));
                if (!current) return {};
                assertSameAccount(role, current.roleArn);
                const inputs: TrustSubjectsInputs = {
                    role,
                    providerArn,
                    subjects: presentSubjects(current.document, providerArn, props?.subjects ?? []),
                    maxPolicyChars: props?.maxPolicyChars ?? DEFAULT_MAX_POLICY_CHARS,
                    allowWildcards: props?.allowWildcards ?? false,
                    anchors: presentSubjects(current.document, providerArn, props?.anchors ?? []),
                };
                return { id, props: outputsOf(inputs, { roleArn: current.roleArn, document: current.document, writes: 0 }) };
            } finally {
                client.destroy();
            }
        },

        async update(_id: string, oldOutputs: TrustSubjectsOutputs, newInputs: TrustSubjectsInputs): Promise<pulumi.dynamic.UpdateResult<TrustSubjectsOutputs>> {
            const [olds, news] = [normalized(oldOutputs), normalized(newInputs)];
            const result = await reconcile(session.settings, news, updateChanges(olds, news), "update");
            if (!result) throw missingRole("update", roleNameOf(news.role));
            return { outs: outputsOf(news, result) };
        },

        async delete(_id: string, state: TrustSubjectsOutputs): Promise<void> {
            const props = normalized(state);
            // A role that is already gone has nothing left to remove.
            await reconcile(session.settings, props, [{ providerArn: props.providerArn, add: [], remove: removable(props) }], "delete");
        },
    };
}

/** One provider object for every TrustSubjects resource: the SDK serializes it once. */
const provider = trustSubjectsProvider();

export class TrustSubjects extends pulumi.dynamic.Resource {
    declare public readonly role: pulumi.Output<string>;
    declare public readonly roleName: pulumi.Output<string>;
    declare public readonly roleArn: pulumi.Output<string>;
    declare public readonly providerArn: pulumi.Output<string>;
    declare public readonly subjects: pulumi.Output<string[]>;
    declare public readonly anchors: pulumi.Output<string[]>;
    declare public readonly maxPolicyChars: pulumi.Output<number>;
    declare public readonly policyChars: pulumi.Output<number>;

    constructor(name: string, args: TrustSubjectsArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            provider,
            name,
            { roleName: undefined, roleArn: undefined, policyChars: undefined, maxPolicyChars: DEFAULT_MAX_POLICY_CHARS, allowWildcards: false, anchors: [], ...args },
            opts,
            "kubeflow-irsa",
            "TrustSubjects",
        );
    }
}
