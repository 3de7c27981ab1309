// TrustSubjects through Pulumi's own provider host: the plugin process spawned in the project
// directory and spoken to over gRPC as the engine does (tests/support/realHost.ts), against the
// local IAM. What the in-process model cannot show: partial state must cross the host's gRPC
// trailer, the serialized provider must find the installed code from wherever the host runs,
// and state written by an earlier version must be taken over by the current code.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FakeIam } from "../support/fakeIam";
import { ACCOUNT, DEV, KF_USER, PROD, sa } from "../support/fixtures";
import { registeredTrustSubjects, useLocalIam } from "../support/host";
import { HostEngine, HostError, RealHost } from "../support/realHost";
import { buildTrustPolicy, presentSubjects } from "../../domain/trustPolicy";

const denied = { kind: "error" as const, code: "AccessDenied", status: 403, message: "User is not authorized to perform: iam:GetRole" };
const OLD_PROVIDER = fs.readFileSync(path.join(__dirname, "..", "upgrade", "fixtures", "trustSubjects-provider-6a8d54d.txt"), "utf8");
const statementsSids = (doc: { Statement: unknown }) => (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]).map((st) => (st as { Sid?: string }).Sid).filter(Boolean);
const team = (i: number) => sa(`team-${String(i).padStart(4, "0")}`);

describe("TrustSubjects through Pulumi's provider host (spawned, gRPC, local IAM)", function () {
    this.timeout(120_000);
    let fake: FakeIam;
    let restoreEnv: () => void;
    let providerText: string;
    let host: RealHost;
    const trusts = (role: string) => presentSubjects(fake.trustPolicy(role), DEV);

    before(async () => {
        fake = await FakeIam.start({ accountId: ACCOUNT, quota: 8192 });
        restoreEnv = useLocalIam(fake);
        providerText = (await registeredTrustSubjects()).__provider as string;
        host = await RealHost.start({ "aws:region": "us-west-2" });
    });
    after(async () => {
        await host?.stop();
        restoreEnv();
        await fake.close();
    });

    it("GIVEN the serialized provider THEN it is a small shim that names no path of this checkout", () => {
        assert.ok(providerText.length <= 16 * 1024, `__provider is ${providerText.length} characters`);
        assert.ok(!providerText.includes(path.resolve(__dirname, "..", "..")), "no absolute path of this checkout is in state");
        console.log(`      __provider: ${providerText.length} characters (the provider it replaces: ${OLD_PROVIDER.length})`);
    });

    it("GIVEN 2,000 subjects over 16 roles WHEN each update's write lands and its verifying read is denied THEN the engine gets every partial state; a reverted config and a destroy converge", async () => {
        const roles = Array.from({ length: 16 }, (_, r) => `kf-user-us-west-2-kf-scale-${r}`);
        const subjectsOf = (r: number) => Array.from({ length: 125 }, (_, i) => team(r * 125 + i));
        const engines = roles.map((role) => new HostEngine(host, providerText, `trust-${role}`));
        const states = [];
        for (const [r, role] of roles.entries()) {
            fake.putRole(role, buildTrustPolicy(DEV, [KF_USER]));
            states.push((await engines[r].up(undefined, { role, providerArn: DEV, subjects: subjectsOf(r), anchors: [KF_USER], maxPolicyChars: 8192 })).state);
        }
        const bytes = states.map((s) => JSON.stringify(s.outs).length);
        console.log(`      state per TrustSubjects with 125 subjects: ${Math.min(...bytes)}–${Math.max(...bytes)} bytes`);
        for (const [r, role] of roles.entries()) {
            const grown = [...subjectsOf(r), sa(`late-${r}`)];
            fake.after("UpdateAssumeRolePolicy", () => fake.failNext("GetRole", denied, 20, role));
            const failed = await engines[r].failingUp(states[r], { role, providerArn: DEV, subjects: grown, anchors: [KF_USER], maxPolicyChars: 8192 });
            fake.clearFaults();
            assert.equal(failed.state?.initFailed, true, `${role}: the host delivered ErrorResourceInitFailed (${failed.message})`);
            assert.ok(failed.state!.outs.subjects.includes(sa(`late-${r}`)), `${role}: the partial state owns what the write added`);
            assert.equal(failed.state!.outs.__provider, providerText, "the partial state names its provider, so the next step can load it");
            assert.ok(trusts(role).includes(sa(`late-${r}`)));
            states[r] = failed.state!;
        }
        // Half the roles: config reverted (the write's subject goes); the other half: kept, then destroyed.
        for (const [r, role] of roles.entries()) {
            if (r % 2 === 0) {
                const reverted = await engines[r].up(states[r], { role, providerArn: DEV, subjects: subjectsOf(r), anchors: [KF_USER], maxPolicyChars: 8192 });
                assert.equal(reverted.op, "update", "a partial state forces the next update");
                assert.ok(!trusts(role).includes(sa(`late-${r}`)), `${role}: the reverted config removed it`);
            } else {
                await engines[r].destroy(states[r]);
                assert.deepEqual(trusts(role), [KF_USER], `${role}: the destroy removed every owned subject, the failed write's too`);
            }
        }
    });

    it("GIVEN 6 roles of 125 subjects, each shared with a second stack on the same cluster WHEN the host is killed as each write lands (no answer: the engine keeps the old state, or none for a create) THEN a refresh and a reverted config, a reverted config alone, a destroy, a kept config, a re-run create and a dead cluster move all converge, and neither stack touches the other's subject", async function () {
        this.timeout(300_000); // twelve host processes, each started and killed: slow on a loaded machine
        const roles = Array.from({ length: 6 }, (_, r) => `kf-user-us-west-2-kf-killed-${r}`);
        const [REFRESHED, REVERTED, DESTROYED, KEPT, CREATE, MOVE] = [0, 1, 2, 3, 4, 5];
        const subjectsOf = (r: number) => Array.from({ length: 125 }, (_, i) => team(5000 + r * 125 + i));
        const [A, B] = ["organization/kubeflow-irsa/dev", "organization/kubeflow-irsa/dev-b"];
        const args = (owner: string, role: string, subjects: string[], providerArn = DEV) => ({ owner, role, providerArn, subjects, anchors: [KF_USER], maxPolicyChars: 8192 });
        const engine = (owner: string, role: string, on = host) => new HostEngine(on, providerText, `trust-${owner}-${role}`);
        const late = (r: number) => sa(`late-${r}`);
        const other = (r: number) => sa(`stack-b-${r}`);
        /** The stacks with a record on the role (a record is one or more tags `kubeflow-irsa:pending:<stack hash>:<n>`). */
        const pendingTags = (role: string) => [...new Set(Object.keys(fake.tags(role)).filter((k) => k.startsWith("kubeflow-irsa:pending:")).map((k) => k.slice(0, k.lastIndexOf(":"))))];
        /** One `up` whose host is killed the moment its write is applied: the answer reaches no one. */
        const killedUp = async (owner: string, role: string, state: Parameters<HostEngine["up"]>[0], props: Record<string, unknown>) => {
            const doomed = await RealHost.start({ "aws:region": "us-west-2" });
            fake.before("UpdateAssumeRolePolicy", () => doomed.kill());
            const dead = await engine(owner, role, doomed).up(state, props).then(() => undefined, (err: Error) => err);
            fake.clearFaults();
            await doomed.stop();
            assert.ok(dead, `${role}: the up got no answer`);
        };
        const statesA = [];
        const statesB = [];
        for (const [r, role] of roles.entries()) {
            fake.putRole(role, buildTrustPolicy(DEV, [KF_USER]));
            statesA.push(r === CREATE ? undefined : (await engine(A, role).up(undefined, args(A, role, subjectsOf(r)))).state);
            statesB.push((await engine(B, role).up(undefined, args(B, role, [sa(`stack-b-base-${r}`)]))).state);
            // Stack B's own write dies too, first: its record is on the role when stack A's comes.
            await killedUp(B, role, statesB[r], args(B, role, [sa(`stack-b-base-${r}`), other(r)]));
            // Stack A: its first create dies (the engine keeps no state at all), a move to another cluster dies, or an update.
            const props = r === MOVE ? args(A, role, [...subjectsOf(r), late(r)], PROD) : args(A, role, [...subjectsOf(r), late(r)]);
            await killedUp(A, role, statesA[r], props);
            assert.ok(r === MOVE ? presentSubjects(fake.trustPolicy(role), PROD).includes(late(r)) : trusts(role).includes(late(r)), `${role}: the write landed`);
            assert.equal(pendingTags(role).length, 2, `${role}: each stack recorded its write on the role before sending it`);
        }
        for (const [r, role] of roles.entries()) {
            const base = subjectsOf(r);
            if (r === CREATE) {
                // The create runs again, the config reverted: what the dead create added goes.
                const created = await engine(A, role).up(undefined, args(A, role, base.slice(0, 100)));
                assert.deepEqual(created.state.outs.subjects, base.slice(0, 100).sort());
                assert.ok(!trusts(role).includes(late(r)) && !trusts(role).includes(base[120]), `${role}: the re-run create removed what the dead one added`);
            } else if (r === MOVE) {
                // A destroy from the old cluster's state: the new cluster's subjects the dead move added go too.
                await engine(A, role).destroy(statesA[r]!);
                assert.deepEqual(presentSubjects(fake.trustPolicy(role), PROD), [], `${role}: nothing of the dead move stays under the new cluster`);
                assert.ok(!base.some((s) => trusts(role).includes(s)), `${role}: nor under the old one`);
            } else if (r === REFRESHED) {
                // Pulumi's advice after an interrupted up: refresh; then the config is reverted.
                const refreshed = await engine(A, role).refresh(statesA[r]!);
                assert.deepEqual(refreshed.outs.leftovers, [{ providerArn: DEV, subjects: [late(r)] }], `${role}: the refresh owns what the dead write added, and nothing of stack B's`);
                assert.equal((await engine(A, role).up(refreshed, args(A, role, base))).op, "update");
            } else if (r === REVERTED) {
                // The config reverted without a refresh: the inputs equal the state, yet diff finds the record.
                const reverted = await engine(A, role).up(statesA[r], args(A, role, base));
                assert.equal(reverted.op, "update", `${role}: the unanswered write makes an unchanged config an update`);
            } else if (r === DESTROYED) {
                await engine(A, role).destroy(statesA[r]!);
                assert.ok(!base.some((s) => trusts(role).includes(s)), `${role}: the destroy removed every owned subject`);
            } else if (r === KEPT) {
                const kept = await engine(A, role).up(statesA[r], args(A, role, [...base, late(r)]));
                assert.equal(kept.op, "update");
                assert.ok(trusts(role).includes(late(r)), `${role}: the config still names it`);
                assert.equal((await engine(A, role).up(kept.state, args(A, role, [...base, late(r)]))).op, "same", `${role}: and the next up has nothing to do`);
                await engine(A, role).destroy(kept.state);
            }
            if (r !== KEPT) assert.ok(!trusts(role).includes(late(r)), `${role}: nothing of stack A's that its config does not name stays`);
            assert.ok(trusts(role).includes(other(r)) && trusts(role).includes(sa(`stack-b-base-${r}`)), `${role}: stack A never removes stack B's subjects, recorded or not`);
            assert.equal(pendingTags(role).length, 1, `${role}: stack A's record went, stack B's stays`);
            // Stack B, its config reverted: its own record makes that an update, which removes its dead write's subject.
            assert.equal((await engine(B, role).up(statesB[r], args(B, role, [sa(`stack-b-base-${r}`)]))).op, "update");
            assert.ok(!trusts(role).includes(other(r)) && trusts(role).includes(sa(`stack-b-base-${r}`)), `${role}: stack B converged`);
            assert.deepEqual(pendingTags(role), [], `${role}: no record is left`);
        }
    });

    it("GIVEN a TrustSubjects created by 6a8d54d (its whole provider in state) WHEN the current program runs THEN the update takes it over with no write, and read and delete then run the current code", async () => {
        const role = "kf-user-us-west-2-kf-upgraded";
        fake.putRole(role, buildTrustPolicy(DEV, [KF_USER]));
        const old = new HostEngine(host, OLD_PROVIDER, "trust-upgraded");
        const args = { role, providerArn: DEV, subjects: [sa("alice"), sa("bob")], anchors: [KF_USER] };
        const created = await old.up(undefined, args);
        assert.equal(created.state.outs.__provider, OLD_PROVIDER);

        const current = new HostEngine(host, providerText, "trust-upgraded");
        fake.resetCalls();
        const taken = await current.up(created.state, args);
        assert.equal(taken.op, "update", "state that names an earlier provider is rewritten");
        assert.equal(fake.count("UpdateAssumeRolePolicy"), 0, "taking it over writes nothing to IAM");
        assert.equal(taken.state.outs.__provider, providerText);
        assert.equal((await current.up(taken.state, args)).op, "same", "and the next up has nothing to do");

        fake.putRole(role, buildTrustPolicy(DEV, [KF_USER, sa("alice")])); // bob removed by hand
        const refreshed = await current.refresh(taken.state);
        assert.deepEqual(refreshed.outs.leftovers, [{ providerArn: DEV, subjects: [sa("bob")] }], "the current read holds what it did not see (6a8d54d's read dropped it)");
        await current.destroy(refreshed);
        assert.deepEqual(trusts(role), [KF_USER]);
    });

    it("GIVEN two stacks (two clusters) whose profiles share a role WHEN both `up` at once, 20 trials (20 shared roles, all at once) with IAM answering in 0–120 ms THEN no trial loses a subject", async () => {
        const window = "800";
        const roles = Array.from({ length: 20 }, (_, t) => `data-science-shared-${t}`);
        for (const role of roles) fake.putRole(role, { Version: "2012-10-17", Statement: [{ Sid: "Ec2", Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }] });
        // Each stack is its own `pulumi up`: its own host process.
        const hosts = await Promise.all([DEV, PROD].map(() => RealHost.start({ "aws:region": "us-west-2" }, { env: { KUBEFLOW_IRSA_WRITE_SETTLE_MS: window } })));
        try {
            const args = (role: string, providerArn: string, subjects: string[]) => ({ role, providerArn, subjects, maxPolicyChars: 8192 });
            const pairs = roles.map((role) => [DEV, PROD].map((providerArn, i) => ({ role, providerArn, engine: new HostEngine(hosts[i], providerText, `trust-${role}`), stack: i })));
            const states = await Promise.all(pairs.flat().map((st) => st.engine.up(undefined, args(st.role, st.providerArn, [sa(`base-${st.stack}`)])).then((r) => r.state)));
            fake.latency(120, 2026);
            const started = Date.now();
            const want = (st: { stack: number }) => [sa(`base-${st.stack}`), sa(`new-in-stack-${st.stack}`)];
            await Promise.all(pairs.flat().map((st, k) => st.engine.up(states[k], args(st.role, st.providerArn, want(st)))));
            const elapsed = Date.now() - started;
            fake.latency(undefined);
            const lost = pairs.flat().flatMap((st) => want(st).filter((s) => !presentSubjects(fake.trustPolicy(st.role), st.providerArn).includes(s)).map((s) => `${st.role}: ${s}`));
            console.log(`      two stacks on one role, 20 trials: ${lost.length} subjects lost; both ups done in ${(elapsed / 1000).toFixed(1)} s (settle window ${window} ms)`);
            assert.deepEqual(lost, [], "both ups reported success: each stack's subjects must be in the role");
            for (const role of roles) assert.deepEqual(statementsSids(fake.trustPolicy(role)), ["Ec2"], "the statement neither stack wrote stays");
        } finally {
            fake.latency(undefined);
            await Promise.all(hosts.map((h) => h.stop()));
        }
    });

    it("GIVEN `pulumi import` of a TrustSubjects (Read with an id and no state) THEN Pulumi's host has no provider to load (pulumi/pulumi#3550): the README says to use awsIamRole instead", async () => {
        fake.putRole("kf-user-us-west-2-kf-imported", buildTrustPolicy(DEV, [KF_USER, sa("alice")]));
        const imported = await host.read("trust-imported", `kf-user-us-west-2-kf-imported|${DEV}`, {}).catch((err: Error) => err);
        assert.ok(imported instanceof HostError, "the host cannot import a dynamic resource");
        assert.match(imported.message, /code must be a string, not undefined/);
        assert.deepEqual(presentSubjects(fake.trustPolicy("kf-user-us-west-2-kf-imported"), DEV), [KF_USER, sa("alice")], "and nothing changed");
    });

    it("GIVEN the host started outside any kubeflow-irsa checkout THEN every call fails with what to run", async () => {
        const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "not-kubeflow-irsa-"));
        const strayHost = await RealHost.start({ "aws:region": "us-west-2" }, { cwd: elsewhere, env: { KUBEFLOW_IRSA_HOME: "" } });
        const stray = await new HostEngine(strayHost, providerText).up(undefined, { role: "kf-user-x", providerArn: DEV, subjects: [sa("alice")] }).catch((err: Error) => err);
        await strayHost.stop();
        assert.ok(stray instanceof HostError, `the first call fails: ${String(stray)}`);
        assert.match(stray.message, /TrustSubjects \(kubeflow-irsa\): the provider runs the code of the kubeflow-irsa project that Pulumi runs in, and there is none at or above .*not-kubeflow-irsa-.*run pulumi in the kubeflow-irsa directory \(or set KUBEFLOW_IRSA_HOME to it\), after `npm ci`/);
        fs.rmSync(elsewhere, { recursive: true });
    });
});
