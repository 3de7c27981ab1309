// The TrustSubjects provider: what the Pulumi host runs for each TrustSubjects resource. A thin
// shell: IAM reads and writes here, every decision about the document in ../domain/trustPolicy, what the
// resource owns in ./ownership, moves in ./moves. The host does not load this file from the
// state: it loads the small shim of ./providerShim, which requires this module from the project
// installed where Pulumi runs — so every resource, whenever its state was written, runs this code.
//
// Pulumi host facts this relies on (pulumi/pulumi sdk/nodejs/cmd/dynamic-provider):
// - `configure({config})` is called once per host process, with the stack config;
// - `diff` and `update` receive the old *outputs*; `read` and `delete` run the shim in state;
// - during preview unknown inputs arrive as the string below, even where an array is expected.

import type * as pulumi from "@pulumi/pulumi";
import { checkInputs } from "./checkInputs";
import { awsSettingsFromConfig, createIamClient, getTrustPolicy, type AwsSettings } from "./iam";
import { pendingSubjects, recent, recordOf, unheldHashes } from "./intent";
import {
    createChanges,
    deleteChanges,
    drainingAfter,
    hasLeftovers,
    held,
    isUnknown,
    trusted,
    mergeHeld,
    normalized,
    normalizedState,
    partialState,
    updateChanges,
    withPending,
    type HeldSubjects,
    type TrustSubjectsInputs,
    type TrustSubjectsOutputs,
} from "./ownership";
import { drainChanged, moveSettingsFromConfig, NO_MOVES, unfinishedMovesOnDelete, type MoveSettings } from "./moves";
import { accountProblem, liveProblem, reconcile, writeSettleMs, type ReconcileResult, type WriteProgress } from "./reconcile";
import { roleNameOf, sameRole } from "../domain/subjects";
import type { TrustChange } from "../domain/trustChanges";
import { canonicalPolicy, DEFAULT_MAX_POLICY_CHARS, policySize, presentSubjects, type PolicyStatement } from "../domain/trustPolicy";

export { quotaProblem } from "./reconcile";
export { checkInputs } from "./checkInputs";
export { UNKNOWN, type TrustSubjectsInputs, type TrustSubjectsOutputs } from "./ownership";

/**
 * What state this code reads: raised when a version writes state that older code would misread.
 * The shim in each resource's state names the contract it was written with, and refuses to run
 * older code on it (see ./providerShim).
 */
export const PROVIDER_CONTRACT = 1;

function sameSubjects(a: readonly string[], b: readonly string[]): boolean {
    const set = new Set(a);
    return set.size === new Set(b).size && b.every((s) => set.has(s));
}

function outputsOf(inputs: TrustSubjectsInputs, result: Pick<ReconcileResult, "roleArn" | "document">, draining: string[] = []): TrustSubjectsOutputs {
    return {
        ...inputs,
        roleName: roleNameOf(inputs.role),
        roleArn: result.roleArn,
        policyChars: policySize(result.document),
        leftovers: [],
        draining,
    } satisfies TrustSubjectsOutputs;
}

/** The refusal of a delete that would cut moved profiles' running pods off (see ./moves). */
function unfinishedMoves(state: TrustSubjectsOutputs, subjects: string[]): Error {
    const namespaces = [...new Set(subjects.map((s) => s.split(":")[2]))].sort();
    return new Error(
        `role "${state.roleName}" still trusts ${subjects.join(", ")}: the stack config moved ${namespaces.length === 1 ? "profile" : "profiles"} ${namespaces.join(", ")} to another role, ` +
            "and the stack no longer uses this one, so deleting its trust now would cut off every pod started before the move (EKS gave them this role's ARN). " +
            "Only these stay: every other subject the stack owned in the role was removed. " +
            "Restart the moved profiles' workloads when convenient, then finish the move: set kubeflow-irsa:finishMoves to true (or list the profiles) and run `pulumi up` " +
            "(or, to destroy the stack, set finishMoves to true and run `pulumi destroy` again)",
    );
}

/**
 * How long a write is watched after it reads back (see ReconcileOptions.settleAfterWriteMs): on a
 * role the stack does not create, which other stacks may share. A role the stack creates (its
 * anchors, or its owned statements, say so) has this resource as its one writer.
 */
function settleFor(inputs: TrustSubjectsInputs): number {
    return inputs.anchors.length > 0 || inputs.statements.length > 0 ? 0 : writeSettleMs();
}

/**
 * The preview-time check of the live document (quota, account, statements we may not edit). Best
 * effort: a read that is throttled, denied or fails is a warning — `up` reads and measures again
 * before it writes.
 */
async function previewProblem(settings: AwsSettings, inputs: TrustSubjectsInputs, changes: TrustChange[], operation: string): Promise<string | undefined> {
    return liveProblem(settings, inputs, changes, operation).catch((err: unknown) => {
        console.warn(
            `warning: TrustSubjects ${roleNameOf(inputs.role)}: the trust policy could not be read at preview to check the ${operation} ` +
                `(${(err as Error).message ?? String(err)}); \`up\` reads and measures it again before it writes`,
        );
        return undefined;
    });
}

async function roleExists(settings: AwsSettings, roleName: string): Promise<boolean> {
    const client = createIamClient(settings);
    try {
        return (await getTrustPolicy(client, roleName)) !== undefined;
    } finally {
        client.destroy();
    }
}

/**
 * Whether an unchanged config still needs an update: an owned subject is missing from the role;
 * the role holds what an earlier write of this stack recorded before it was sent and never
 * reported (./intent: the host died before the engine heard back) — the update owns it and removes
 * what the config does not name; or the record names a write that never landed — the update drops
 * it. One read; a read that fails only warns, like every preview read.
 */
async function roleNeedsUpdate(settings: AwsSettings, state: TrustSubjectsOutputs, inputs: TrustSubjectsInputs): Promise<boolean> {
    if (!inputs.owner || isUnknown(inputs.role)) return false;
    const client = createIamClient(settings);
    try {
        const current = await getTrustPolicy(client, roleNameOf(inputs.role));
        if (!current) return false;
        const record = recordOf(current.tags, inputs.owner);
        // What the state owns already needs nothing (a record an earlier operation could not remove).
        const owned = new Map(held(state).map((e) => [e.providerArn, new Set(e.subjects)]));
        const unowned = pendingSubjects(record, current.document).some((e) => e.subjects.some((s) => !owned.get(e.providerArn)?.has(s)));
        // What the record names and the role does not hold, past the horizon, is a write that never
        // landed: the update (which writes no trust policy) drops it before someone else adds it.
        const neverLanded = unheldHashes(record, current.document).length > 0 && !recent(record, Date.now());
        // An owned subject the role no longer trusts (a person removed it; another resource of the
        // stack that left the program removed it on its way out): the update puts it back.
        const wanted = trusted(inputs);
        const missing = inputs.providerArn !== "" && presentSubjects(current.document, inputs.providerArn, wanted).length < wanted.length;
        return unowned || neverLanded || missing;
    } catch (err) {
        console.warn(`warning: TrustSubjects ${roleNameOf(inputs.role)}: the role could not be read at preview to look for drift or an unanswered earlier write (${(err as Error).message ?? String(err)}); \`pulumi refresh\` finds it`);
        return false;
    } finally {
        client.destroy();
    }
}

function missingRole(operation: string, roleName: string): Error {
    return new Error(`${operation}: role "${roleName}" does not exist; create it first, or point awsIamRole at an existing role`);
}

/**
 * The error of a create or update that sent a write and then failed, in the shape the Node host
 * turns into ErrorResourceInitFailed (id and properties): the engine records the properties as
 * the resource's state and runs an update on the next `up` even when nothing changed. The host
 * adds `__provider` to results but not to these properties, so they carry it themselves.
 */
function partialFailure(err: unknown, id: string, state: TrustSubjectsOutputs, providerText: unknown): Error {
    const message =
        `${(err as Error).message ?? String(err)} — a write was sent, so role "${state.roleName}" may already trust the new subjects: ` +
        "the stack's state now owns them, and the next `pulumi up` finishes the change (or, if the config no longer names them, removes them)";
    return Object.assign(new Error(message), { id, properties: { ...state, __provider: providerText }, reasons: [message] });
}

/** The id of a resource: the role's ARN, which no update changes (another role is a replace). */
function resourceId(roleArn: string): string {
    return roleArn;
}

/**
 * The error to throw when an operation failed: as it is when no write may have landed (the engine
 * keeps the old state, or none for a create); otherwise with the state IAM may now hold.
 */
function failure(err: unknown, progress: WriteProgress, olds: TrustSubjectsOutputs | undefined, news: TrustSubjectsInputs, raw: object, id?: string): unknown {
    if (!progress.sent || !progress.roleArn) return err;
    const state = partialState(olds, news, {
        roleName: roleNameOf(news.role),
        roleArn: progress.roleArn,
        policyChars: progress.document ? policySize(progress.document) : 0,
    });
    return partialFailure(err, id ?? resourceId(progress.roleArn), state, (raw as { __provider?: unknown }).__provider);
}

/** The provider, as an object the Pulumi host loads and calls. */
export function trustSubjectsProvider(): pulumi.dynamic.ResourceProvider<TrustSubjectsInputs, TrustSubjectsOutputs> {
    // Filled in by `configure` after the host has loaded this object; never serialized with values.
    const session: { settings: AwsSettings; moves: MoveSettings } = { settings: { assumeRoles: [] }, moves: NO_MOVES };
    const known = (inputs: TrustSubjectsInputs) => ![inputs.role, inputs.providerArn, inputs.subjects, inputs.anchors, inputs.maxPolicyChars].some(isUnknown);

    return {
        async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
            session.settings = awsSettingsFromConfig((key) => req.config.get(key));
            session.moves = moveSettingsFromConfig((key) => req.config.get(key));
        },

        async check(olds: TrustSubjectsInputs, news: TrustSubjectsInputs): Promise<pulumi.dynamic.CheckResult<TrustSubjectsInputs>> {
            const { inputs, failures } = checkInputs(news as unknown as Record<string, unknown>);
            // A create has no diff, so its preview-time quota check against the live role is here.
            // Only for creates: `check` runs for every resource on every preview, and an
            // unchanged `up` must make no IAM call.
            const creating = !olds || Object.keys(olds).length === 0;
            if (creating && failures.length === 0 && known(inputs)) {
                const problem = await previewProblem(session.settings, inputs, createChanges(inputs), "create");
                if (problem) failures.push({ property: "subjects", reason: problem });
            }
            return { inputs, failures };
        },

        async diff(_id: string, oldOutputs: TrustSubjectsOutputs, newInputs: TrustSubjectsInputs): Promise<pulumi.dynamic.DiffResult> {
            const [olds, news] = [normalizedState(oldOutputs), normalized(newInputs)];
            if (isUnknown(news.role) || !sameRole(olds.role, news.role)) {
                // Another role: the new one gains (create), then the old one loses (delete), so no
                // pod is ever without trust. Two documents, one write each. The create's own check
                // ran with old inputs, so the target is measured here.
                if (known(news)) {
                    const problem = await previewProblem(session.settings, news, createChanges(news), "create");
                    if (problem) throw new Error(problem);
                }
                return { changes: true, replaces: ["role"], deleteBeforeReplace: false };
            }
            // A new cluster (OIDC provider) on the same role is an update, not a replace: one
            // read-modify-write moves the subjects and anchors. Two (a create and a delete) could
            // undo each other through IAM's eventually consistent reads.
            const moving = isUnknown(news.providerArn) || olds.providerArn !== news.providerArn;
            if (!moving) {
                if (isUnknown(news.subjects) || isUnknown(news.anchors)) return { changes: true };
                const same = (a: PolicyStatement[], b: PolicyStatement[]) => canonicalPolicy({ Statement: a }) === canonicalPolicy({ Statement: b });
                const sameStatements = same(olds.retiredStatements, news.retiredStatements) && same(olds.statements, news.statements);
                const drainSettled = !drainChanged(olds.draining, session.moves);
                // State that names another provider text (an earlier version's whole provider, or
                // an older shim) is rewritten by an update that writes nothing: `read` and
                // `delete` run the text in state, and should run this code.
                const sameProvider = (oldOutputs as { __provider?: unknown }).__provider === (newInputs as { __provider?: unknown }).__provider;
                // The stack's name is the key of its record on the role (./intent): a state without it
                // (an earlier version's) is rewritten, so a later delete or refresh can find the record.
                const sameOwner = olds.owner === news.owner;
                if (sameSubjects(olds.subjects, news.subjects) && sameSubjects(olds.anchors, news.anchors) && sameStatements && drainSettled && !hasLeftovers(olds)) {
                    return { changes: !sameProvider || !sameOwner || (await roleNeedsUpdate(session.settings, olds, news)) };
                }
            }
            // Preview-time quota check against the live document: fail now, not half-way through `up`.
            if (known(news)) {
                const problem = await previewProblem(session.settings, news, updateChanges(olds, news, session.moves), "update");
                if (problem) throw new Error(problem);
            }
            return { changes: true };
        },

        async create(checked: TrustSubjectsInputs): Promise<pulumi.dynamic.CreateResult<TrustSubjectsOutputs>> {
            const inputs = normalized(checked);
            const progress: WriteProgress = { sent: false };
            // What an unanswered earlier create recorded (./intent) and the config no longer names goes.
            const plan = (pending: HeldSubjects[]) => (pending.length === 0 ? createChanges(inputs) : updateChanges(withPending(undefined, inputs, pending), inputs, session.moves));
            let result;
            try {
                result = await reconcile(session.settings, inputs, plan, "create", progress, { awaitRole: true, settleAfterWriteMs: settleFor(inputs) });
            } catch (err) {
                throw failure(err, progress, undefined, inputs, checked);
            }
            if (!result) throw missingRole("create", roleNameOf(inputs.role));
            return { id: resourceId(result.roleArn), outs: outputsOf(inputs, result, drainingAfter(withPending(undefined, inputs, result.pending), inputs, session.moves)) };
        },

        async read(id: string, props?: TrustSubjectsOutputs): Promise<pulumi.dynamic.ReadResult<TrustSubjectsOutputs>> {
            // Without state (an import by id "<role name>|<provider ARN>") nothing is owned yet: the
            // role's subjects may belong to kfctl, other stacks or people, so none is claimed.
            const state = props && Object.keys(props).length > 0 ? normalizedState(props) : undefined;
            const [idRole, idProvider] = id.split("|");
            const role = state?.role ?? idRole;
            const providerArn = state ? state.providerArn : idProvider;
            if (providerArn === undefined || (!state && !providerArn)) {
                throw new Error(`read of TrustSubjects "${id}": without state the id must name the role and the OIDC provider, as "<role name>|<OIDC provider ARN>"`);
            }
            const client = createIamClient(session.settings);
            try {
                const current = await getTrustPolicy(client, roleNameOf(role));
                if (!current) return {};
                const wrongAccount = accountProblem(role, current.roleArn);
                if (wrongAccount) throw new Error(wrongAccount);
                const present = (provider: string, subjects: string[]) => (provider ? presentSubjects(current.document, provider, subjects) : []);
                // Anchors are what the resource must keep in the role, not drift: they stay in the
                // state, and one the read does not show is held (below) for the next up to put back.
                const inputs: TrustSubjectsInputs = {
                    role,
                    providerArn,
                    subjects: present(providerArn, state?.subjects ?? []),
                    maxPolicyChars: state?.maxPolicyChars ?? DEFAULT_MAX_POLICY_CHARS,
                    allowWildcards: state?.allowWildcards ?? false,
                    anchors: state?.anchors ?? [],
                    retiredStatements: state?.retiredStatements ?? [],
                    statements: state?.statements ?? [],
                    owner: state?.owner ?? "",
                };
                // A subject the read does not show is reported as drift (not in `subjects`, so the
                // next up puts back what the config names) but stays owned: one read may lag a
                // write that landed, and dropping it would strand it if the config lets it go.
                const draining = present(providerArn, state?.draining ?? []);
                const seen = new Set([...inputs.subjects, ...draining, ...present(providerArn, inputs.anchors)]);
                const unseen = [...(state?.subjects ?? []), ...(state?.draining ?? []), ...inputs.anchors].filter((s) => !seen.has(s));
                // What an earlier write of the stack recorded before it was sent (./intent), unanswered,
                // and the role holds, under any provider: owned from now on, so the next up removes
                // what the config does not name.
                const pending = pendingSubjects(recordOf(current.tags, inputs.owner), current.document).map((e) => ({
                    providerArn: e.providerArn,
                    subjects: e.subjects.filter((s) => e.providerArn !== providerArn || !seen.has(s)),
                }));
                const leftovers = mergeHeld([...(state?.leftovers ?? []), { providerArn, subjects: unseen }, ...(inputs.owner ? pending : [])]);
                return { id, props: { ...outputsOf(inputs, current, draining), leftovers } };
            } finally {
                client.destroy();
            }
        },

        async update(id: string, oldOutputs: TrustSubjectsOutputs, newInputs: TrustSubjectsInputs): Promise<pulumi.dynamic.UpdateResult<TrustSubjectsOutputs>> {
            const [olds, news] = [normalizedState(oldOutputs), normalized(newInputs)];
            const progress: WriteProgress = { sent: false };
            const plan = (pending: HeldSubjects[]) => updateChanges(withPending(olds, news, pending), news, session.moves);
            let result;
            try {
                result = await reconcile(session.settings, news, plan, "update", progress, { awaitRole: true, settleAfterWriteMs: settleFor(news) });
            } catch (err) {
                throw failure(err, progress, olds, news, newInputs, id);
            }
            if (!result) throw missingRole("update", roleNameOf(news.role));
            return { outs: outputsOf(news, result, drainingAfter(withPending(olds, news, result.pending), news, session.moves)) };
        },

        async delete(_id: string, state: TrustSubjectsOutputs): Promise<void> {
            const props = normalizedState(state);
            // Moves this delete may not finish stay; everything else owned goes in the same write,
            // so a profile removed from the config loses its trust even while the delete is refused.
            // What an unanswered earlier write of the stack recorded (./intent) and the role holds is
            // owned too; a refused delete keeps the record, since the engine then keeps the old state.
            let unfinished = unfinishedMovesOnDelete(props, session.moves);
            const plan = (pending: HeldSubjects[]) => {
                const owned = withPending(props, props, pending);
                unfinished = unfinishedMovesOnDelete(owned, session.moves);
                return deleteChanges(owned, unfinished);
            };
            // A refused delete leaves the engine with the old state: what it owns, and no more.
            const owned = new Map(held(props).map((e) => [e.providerArn, new Set(e.subjects)]));
            const answerOwns = (providerArn: string, subject: string) => unfinished.length === 0 || (owned.get(providerArn)?.has(subject) ?? false);
            const options = { settleAfterWriteMs: settleFor(props), answerOwns };
            // Nothing owned (only anchors) and no record to look for: no IAM call. A role that is
            // already gone has nothing left to remove, and no pod can use it: nothing to refuse either.
            if (deleteChanges(props, unfinished).length > 0 || props.owner) {
                if (!(await reconcile(session.settings, props, plan, "delete", undefined, options))) return;
            } else if (unfinished.length > 0 && !(await roleExists(session.settings, roleNameOf(props.role)))) {
                return;
            }
            if (unfinished.length > 0) throw unfinishedMoves(props, unfinished);
        },
    };
}

