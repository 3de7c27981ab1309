// IAM traffic of `pulumi up` for N profiles, against the local IAM endpoint (tests/support/fakeIam),
// driving the REAL dynamic provider the way the Pulumi engine and its Node.js dynamic-provider host
// do: the serialized `__provider` text is loaded with require-from-string(text).handler() and
// configured once; per TrustSubjects resource the engine calls check(oldInputs, news), then
// create(news) for a new resource, or diff(id, oldOutputs, news) and update(id, oldOutputs, news)
// when diff reports changes. Forked by bench/run.ts in a fresh process.

import * as os from "os";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import requireFromString from "require-from-string";
import { ROLE_TYPE, runProgram, TRUST_SUBJECTS_TYPE, type ProgramRun, type RecordedResource } from "../cli/evaluate";
import { ConfigError } from "../components/config";
import { planStack } from "../components/kubeflowIrsa";
import { buildTrustPolicy } from "../domain/trustPolicy";
import { roleNameOf } from "../domain/subjects";
import { FakeIam } from "../tests/support/fakeIam";
import { configValues, parseValues, profileAt, profiles, since, type IamJob, type IamResult, type PhaseResult, type WorkerMessage } from "./common";

/** A progress line for the parent to print (bench/run.ts, on stderr). */
function progress(text: string): void {
    const message: WorkerMessage<never> = { kind: "progress", text: `IAM: ${text}` };
    process.send!(message);
}

type Provider = pulumi.dynamic.ResourceProvider;
type Props = Record<string, unknown>;

interface StateEntry {
    id: string;
    /** Checked inputs, as the engine keeps them (with __provider). */
    inputs: Props;
    /** Outputs, as the dynamic-provider host returns them (with __provider). */
    outputs: Props;
}

/** Runs `fn` over `items` with at most `limit` in flight (0: all at once, the engine's default). */
async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
    const width = limit > 0 ? Math.min(limit, items.length) : items.length;
    let next = 0;
    await Promise.all(
        Array.from({ length: width }, async () => {
            while (next < items.length) await fn(items[next++]);
        }),
    );
}


async function main(): Promise<void> {
    const job = JSON.parse(process.argv[2]) as IamJob;

    const fake = await FakeIam.start({ quota: job.maxChars });
    // The SDK reads these when a client is created (clients are created per call, in the provider).
    const nowhere = path.join(os.tmpdir(), "kubeflow-irsa-bench-no-aws-config");
    Object.assign(process.env, {
        AWS_ENDPOINT_URL_IAM: fake.endpoint,
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY: "x",
        AWS_REGION: "us-east-1",
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_CONFIG_FILE: nowhere,
        AWS_SHARED_CREDENTIALS_FILE: nowhere,
    });
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_ENDPOINT_URL;

    const providers = new Map<string, Provider>();
    const state = new Map<string, StateEntry>();
    let externalRoles = 0;

    async function providerFor(text: string): Promise<Provider> {
        let provider = providers.get(text);
        if (!provider) {
            // As the host does: once per distinct text, then configure({config}) once.
            provider = (requireFromString(text) as { handler: () => Provider }).handler();
            await provider.configure!({
                config: {
                    get: () => undefined,
                    require: (key: string) => {
                        throw new Error(key);
                    },
                },
            } as unknown as pulumi.dynamic.ConfigureRequest);
            providers.set(text, provider);
        }
        return provider;
    }

    const timedRun = async (list = profiles(job.profiles)): Promise<{ run: ProgramRun; ms: number }> => {
        const start = process.hrtime.bigint();
        const run = await runProgram(configValues(list, job.shards, job.maxChars), "bench");
        return { run, ms: since(start) };
    };
    const trustOf = (run: ProgramRun): RecordedResource[] => run.resources.filter((r) => r.type === TRUST_SUBJECTS_TYPE);

    /**
     * One engine pass over the program's TrustSubjects resources. `preview`: check and diff only.
     */
    async function pass(phase: string, run: ProgramRun, programMs: number, preview = false, note?: string): Promise<PhaseResult> {
        const resources = trustOf(run);
        const counts = { checks: 0, diffs: 0, diffsWithChanges: 0, creates: 0, updates: 0 };
        fake.resetCalls();
        const start = process.hrtime.bigint();
        await mapLimit(resources, job.parallel, async (r) => {
            const text = String(r.inputs.__provider);
            const provider = await providerFor(text);
            const old = state.get(r.name);
            counts.checks++;
            const checked = await provider.check!(old?.inputs ?? {}, r.inputs);
            if (checked.failures && checked.failures.length > 0) {
                throw new Error(`check of ${r.name} failed: ${checked.failures.map((f) => f.reason).join("; ")}`);
            }
            const news: Props = { ...(checked.inputs as Props), __provider: text };
            if (!old) {
                if (preview) return;
                counts.creates++;
                const created = await provider.create(news);
                state.set(r.name, { id: created.id, inputs: news, outputs: { ...(created.outs as Props), __provider: text } });
                return;
            }
            counts.diffs++;
            const diff = await provider.diff!(old.id, old.outputs, news);
            if (!diff.changes) return;
            counts.diffsWithChanges++;
            if (diff.replaces && diff.replaces.length > 0) throw new Error(`${r.name}: diff asks for replacement of ${diff.replaces.join(", ")}`);
            if (preview) return;
            counts.updates++;
            const updated = await provider.update!(old.id, old.outputs, news);
            state.set(r.name, { id: old.id, inputs: news, outputs: { ...(updated.outs as Props), __provider: text } });
        });
        const wallMs = since(start);

        const gets = fake.calls.filter((c) => c.action === "GetRole");
        const puts = fake.calls.filter((c) => c.action === "UpdateAssumeRolePolicy");
        const touched = new Set(puts.map((c) => (c.roleName ?? "").toLowerCase()));
        const read = new Set(gets.map((c) => (c.roleName ?? "").toLowerCase()));
        const readsOnTouched = gets.filter((c) => touched.has((c.roleName ?? "").toLowerCase())).length;
        const otherCalls: Record<string, number> = {};
        for (const c of fake.calls) {
            if (c.action !== "GetRole" && c.action !== "UpdateAssumeRolePolicy") otherCalls[c.action] = (otherCalls[c.action] ?? 0) + 1;
        }
        return {
            phase,
            programMs,
            wallMs,
            trustSubjects: resources.length,
            ...counts,
            getRole: gets.length,
            updateAssumeRolePolicy: puts.length,
            rolesTouched: touched.size,
            rolesRead: read.size,
            readsPerTouchedRole: touched.size ? readsOnTouched / touched.size : 0,
            writesPerTouchedRole: touched.size ? puts.length / touched.size : 0,
            otherCalls,
            ...(note ? { note } : {}),
        };
    }

    // ---- first up: the roles exist (aws:iam/role:Role creates them with the anchor trust), then
    // every TrustSubjects resource is created ----
    progress("phase first up (program, then create every TrustSubjects)…");
    const first = await timedRun();
    const roles = first.run.resources.filter((r) => r.type === ROLE_TYPE);
    const managed = new Set<string>();
    for (const role of roles) {
        fake.putRole(String(role.inputs.name), String(role.inputs.assumeRolePolicy));
        managed.add(String(role.inputs.name).toLowerCase());
    }
    for (const t of trustOf(first.run)) {
        const name = roleNameOf(String(t.inputs.role));
        if (managed.has(name.toLowerCase()) || fake.role(name)) continue;
        // A role this stack does not manage: someone else's statement for another service account.
        fake.putRole(name, buildTrustPolicy(String(t.inputs.providerArn), ["system:serviceaccount:platform:pipeline-runner"]));
        externalRoles++;
    }
    const phases: PhaseResult[] = [];
    phases.push(await pass("first up", first.run, first.ms));
    const largestPolicyChars = Math.max(...roles.map((r) => fake.role(String(r.inputs.name))!.document.length));

    // ---- unchanged up: the same config again ----
    progress("phase unchanged up…");
    const again = await timedRun();
    phases.push(await pass("unchanged up", again.run, again.ms));

    // ---- one-profile change: one more profile, at the same userRoleShards (the next profile
    // name whose shard still has room; the program itself would refuse one that does not fit) ----
    let extra = job.profiles;
    let skipped = 0;
    for (;;) {
        try {
            planStack(parseValues(configValues([...profiles(job.profiles), profileAt(extra)], job.shards, job.maxChars)));
            break;
        } catch (err) {
            if (!(err instanceof ConfigError) || ++skipped > 100) throw err;
            extra++;
        }
    }
    const list = [...profiles(job.profiles), profileAt(extra)];
    progress(`phase one-profile change: preview (added ${profileAt(extra).name})…`);
    const changed = await timedRun(list);
    const note = `added ${profileAt(extra).name}` + (skipped ? ` (${skipped} earlier candidate(s) skipped: their shard was full)` : "");
    phases.push(await pass("one-profile change: preview", changed.run, changed.ms, true, note));
    progress("phase one-profile change: up…");
    phases.push(await pass("one-profile change: up", changed.run, 0, false, note));

    // ---- unchanged up after the change: nothing left to do ----
    progress("phase unchanged up after change…");
    const settled = await timedRun(list);
    phases.push(await pass("unchanged up after change", settled.run, settled.ms));

    await fake.close();
    const texts = [...providers.keys()];
    const result: IamResult = {
        profiles: job.profiles,
        shards: job.shards,
        maxChars: job.maxChars,
        parallel: job.parallel,
        managedRoles: roles.length,
        externalRoles,
        providerTexts: texts.length,
        providerChars: texts.reduce((sum, t) => sum + t.length, 0),
        phases,
        largestPolicyChars,
    };
    const message: WorkerMessage<typeof result> = { kind: "result", result };
    process.send!(message, () => process.exit(0));
}

main().catch((err) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    process.exit(1);
});
