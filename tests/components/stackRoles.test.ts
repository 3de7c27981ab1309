// Which awsIamRole ARNs are the stack's own roles, by one rule of role identity (account plus
// case-insensitive name, paths ignored as IAM does), as the program under mocks shows it: what it
// registers, what `profileRoleArns` says, what each Profile is annotated with — and that no role
// ever gets two TrustSubjects, whose read-modify-writes would undo each other in one `up`.
import { strict as assert } from "assert";
import * as path from "path";
import { MOCK_ACCOUNT, runProgram, TRUST_SUBJECTS_TYPE, type ProgramRun } from "../../cli/evaluate";
import { cliValues, named, ofType } from "../support/program";

const OTHER = "999988887777";
const KF_USER = "kf-user-us-west-2-kf-dev";
const KF_USER_ARN = `arn:aws:iam::${MOCK_ACCOUNT}:role/${KF_USER}`;
const LBC = "kf-lbc-us-west-2-kf-dev";
const COMPONENT_PROGRAM = path.resolve(__dirname, "..", "support", "componentProgram.ts");
const sub = (ns: string) => `system:serviceaccount:${ns}:default-editor`;

type Profile = { name: string; owner: string; awsIamRole?: string };
const profile = (name: string, awsIamRole?: string): Profile => ({ name, owner: `${name}@example.com`, ...(awsIamRole ? { awsIamRole } : {}) });
const config = (profiles: Profile[], extra: Record<string, unknown> = {}) =>
    cliValues({ "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-dev", "kubeflow-irsa:kubeflowInstalled": "true", "kubeflow-irsa:profiles": profiles, ...extra });

/** TrustSubjects per real role, read off the registered `role` inputs: account and case-folded name, path dropped. */
function writersByRole(run: ProgramRun): Map<string, string[]> {
    const byRole = new Map<string, string[]>();
    for (const trust of ofType(run, TRUST_SUBJECTS_TYPE)) {
        const match = /^arn:aws:iam::(\d{12}):role\/(?:[^/]+\/)*([^/]+)$/.exec(String(trust.inputs.role));
        assert.ok(match, `${trust.name}: role ${String(trust.inputs.role)} is an ARN`);
        const role = `${match[1]}/${match[2].toLowerCase()}`;
        byRole.set(role, [...(byRole.get(role) ?? []), trust.name]);
    }
    return byRole;
}

function assertOneWriterPerRole(run: ProgramRun): void {
    for (const [role, writers] of writersByRole(run)) assert.equal(writers.length, 1, `${role} has ${writers.length} TrustSubjects: ${writers.join(", ")}`);
}

const trustOn = (run: ProgramRun, role: string) => ofType(run, TRUST_SUBJECTS_TYPE).filter((t) => String(t.inputs.role) === role);
const annotation = (run: ProgramRun, profileName: string) =>
    (named(run, `profile-${profileName}`).inputs.spec as { plugins: { spec: { awsIamRole: string } }[] }).plugins[0].spec.awsIamRole;

async function refusal(run: Promise<ProgramRun>): Promise<{ message: string; registered: string[] }> {
    try {
        await run;
    } catch (err) {
        const e = err as Error & { registered?: string[] };
        return { message: e.message, registered: e.registered ?? [] };
    }
    throw new Error("expected the program to refuse the config");
}

describe("stack roles: which awsIamRole ARNs are the stack's own roles (program under mocks)", function () {
    this.timeout(60_000);

    describe("GIVEN adminRoleMode perController and a profile whose awsIamRole has a component role's name", () => {
        const perController = (arn: string) => config([profile("team-a"), profile("edge", arn)], { "kubeflow-irsa:adminRoleMode": "perController" });

        it("WHEN the ARN is in another account THEN it is that account's role: a TrustSubjects of its own, used as configured", async () => {
            const partner = `arn:aws:iam::${OTHER}:role/${LBC}`;
            const run = await runProgram(perController(partner));
            const [trust] = trustOn(run, partner);
            assert.equal(trust.name, `trust-${OTHER}-${LBC}`);
            assert.deepEqual(trust.inputs.subjects, [sub("edge")]);
            assert.deepEqual(trust.inputs.anchors, [], "not a role this stack creates");
            const own = trustOn(run, `arn:aws:iam::${MOCK_ACCOUNT}:role/${LBC}`);
            assert.equal(own.length, 1);
            assert.ok(!(own[0].inputs.subjects as string[]).includes(sub("edge")), "the component's own role does not trust the team");
            assert.equal((run.outputs.profileRoleArns as Record<string, string>).edge, partner);
            assert.equal(annotation(run, "edge"), partner);
            assertOneWriterPerRole(run);
        });

        it("WHEN the ARN is the component's own role in the deploying account, under a path THEN it is still refused (paths do not make another role)", async () => {
            const { message, registered } = await refusal(runProgram(perController(`arn:aws:iam::${MOCK_ACCOUNT}:role/teams/${LBC}`)));
            assert.match(message, /profiles\[1\]\.awsIamRole: ".*:role\/teams\/kf-lbc-us-west-2-kf-dev" is the AWS Load Balancer Controller's own role \(adminRoleMode perController\), which only its service accounts may assume/);
            assert.deepEqual(registered, []);
        });
    });

    describe("GIVEN the component used from another program without accountId", () => {
        it("WHEN an awsIamRole in the deploying account names kf-user THEN nothing is registered, and the error names accountId and deployerAccount as the fix", async () => {
            const { message, registered } = await refusal(runProgram(config([profile("team-a"), profile("team-b", KF_USER_ARN)]), "dev", MOCK_ACCOUNT, COMPONENT_PROGRAM));
            assert.match(
                message,
                /kubeflow-irsa:profiles\[1\]\.awsIamRole: "arn:aws:iam::123456789012:role\/kf-user-us-west-2-kf-dev" has the name of a role this stack creates, and the account the stack deploys to is not known.*pass accountId to KubeflowIrsa.*`await deployerAccount\(config\)` asks STS/,
            );
            assert.deepEqual(registered, []);
        });

        it("WHEN the awsIamRole is a kf-user shard name beyond the count, in any account THEN it is refused the same way (the account decides whether it is the stack's)", async () => {
            const { message } = await refusal(runProgram(config([profile("team-b", `arn:aws:iam::${OTHER}:role/${KF_USER}-7`)]), "dev", MOCK_ACCOUNT, COMPONENT_PROGRAM));
            assert.match(message, /profiles\[0\]\.awsIamRole: ".*kf-user-us-west-2-kf-dev-7" has the name of a role this stack creates, and the account the stack deploys to is not known/);
        });

        it("WHEN no awsIamRole has a stack role's name THEN no account is needed", async () => {
            const partner = `arn:aws:iam::${OTHER}:role/data-science`;
            const run = await runProgram(config([profile("team-a"), profile("team-b", partner)]), "dev", MOCK_ACCOUNT, COMPONENT_PROGRAM);
            assert.deepEqual(run.outputs.profileRoleArns, { "team-a": KF_USER_ARN, "team-b": partner });
            assertOneWriterPerRole(run);
        });

        it("WHEN that program passes deployerAccount(config) THEN kf-user has one TrustSubjects trusting both profiles, and both use its ARN", async () => {
            const run = await runProgram(config([profile("team-a"), profile("team-b", KF_USER_ARN)], { "platform:askSts": "true" }), "dev", MOCK_ACCOUNT, COMPONENT_PROGRAM);
            const [trust, ...more] = trustOn(run, KF_USER_ARN);
            assert.deepEqual(more, []);
            assert.equal(trust.name, `trust-${KF_USER}`);
            assert.deepEqual(trust.inputs.subjects, [sub("team-a"), sub("team-b")]);
            assert.deepEqual(run.outputs.profileRoleArns, { "team-a": KF_USER_ARN, "team-b": KF_USER_ARN });
            assertOneWriterPerRole(run);
        });
    });

    describe("GIVEN an awsIamRole naming kf-user in the deploying account with a path or spelling the role does not have", () => {
        for (const [what, arn] of [
            ["a path (role/some/path/…)", `arn:aws:iam::${MOCK_ACCOUNT}:role/some/path/${KF_USER}`],
            ["another case (KF-User-…)", `arn:aws:iam::${MOCK_ACCOUNT}:role/KF-User-us-west-2-kf-dev`],
        ]) {
            it(`WHEN it has ${what} THEN it joins kf-user's one TrustSubjects, and the Profile and profileRoleArns name the role's real ARN`, async () => {
                const run = await runProgram(config([profile("team-a"), profile("team-b", arn)]));
                assert.deepEqual(trustOn(run, arn), [], "no TrustSubjects for the ARN as written");
                assert.deepEqual(trustOn(run, KF_USER_ARN)[0].inputs.subjects, [sub("team-a"), sub("team-b")]);
                assert.equal(annotation(run, "team-b"), KF_USER_ARN, "pods ask STS for the role that exists");
                assert.deepEqual(run.outputs.profileRoleArns, { "team-a": KF_USER_ARN, "team-b": KF_USER_ARN });
                assertOneWriterPerRole(run);
            });
        }

        it("WHEN the same name is in another account, with a path THEN it is that account's role, used exactly as configured", async () => {
            const partner = `arn:aws:iam::${OTHER}:role/some/path/${KF_USER}`;
            const run = await runProgram(config([profile("team-a"), profile("team-b", partner)]));
            assert.deepEqual(trustOn(run, partner).map((t) => [t.name, t.inputs.subjects]), [[`trust-${OTHER}-${KF_USER}`, [sub("team-b")]]]);
            assert.deepEqual(trustOn(run, KF_USER_ARN)[0].inputs.subjects, [sub("team-a")]);
            assert.equal(annotation(run, "team-b"), partner);
            assertOneWriterPerRole(run);
        });
    });

    describe("GIVEN awsIamRole ARNs of roles this stack does not create", () => {
        it("WHEN two ARNs name one role, with and without a path THEN it gets one TrustSubjects (one read-modify-write per role)", async () => {
            const plain = `arn:aws:iam::${OTHER}:role/data-science`;
            const run = await runProgram(config([profile("team-a", plain), profile("team-b", `arn:aws:iam::${OTHER}:role/ml/Data-Science`)]));
            const writers = writersByRole(run).get(`${OTHER}/data-science`);
            assert.deepEqual(writers, [`trust-${OTHER}-data-science`]);
            assert.deepEqual(ofType(run, TRUST_SUBJECTS_TYPE).find((t) => t.name === writers![0])!.inputs.subjects, [sub("team-a"), sub("team-b")]);
        });

        it("WHEN an ARN names kf-user shard 7 of another account (the stack has 1 shard) THEN it is that account's role, not a pinned shard", async () => {
            const partner = `arn:aws:iam::${OTHER}:role/${KF_USER}-7`;
            const run = await runProgram(config([profile("team-b", partner)]));
            assert.deepEqual(trustOn(run, partner).map((t) => t.inputs.subjects), [[sub("team-b")]]);
            assert.equal((run.outputs.profileRoleArns as Record<string, string>)["team-b"], partner);
            assertOneWriterPerRole(run);
        });

        it("WHEN an ARN names kf-user shard 7 of the deploying account THEN it is refused as a shard this stack does not create at 1 shard", async () => {
            const { message, registered } = await refusal(runProgram(config([profile("team-b", `${KF_USER_ARN}-7`)])));
            assert.match(message, /profiles\[0\]\.awsIamRole: ".*kf-user-us-west-2-kf-dev-7" is kf-user shard 7, which this stack creates only while kubeflow-irsa:userRoleShards is above 7 \(it is 1\)/);
            assert.deepEqual(registered, []);
        });
    });

    describe("GIVEN identityMode podIdentity", () => {
        it("THEN a role in another account is reached by chaining from kf-user, and a role of the deploying account is associated directly", async () => {
            const partner = `arn:aws:iam::${OTHER}:role/${KF_USER}`;
            const own = `arn:aws:iam::${MOCK_ACCOUNT}:role/team-c-data`;
            const run = await runProgram(config([profile("team-b", partner), profile("team-c", own)], { "kubeflow-irsa:identityMode": "podIdentity" }));
            const associations = ofType(run, "aws:eks/podIdentityAssociation:PodIdentityAssociation");
            const of = (ns: string) => associations.find((a) => a.inputs.namespace === ns)!.inputs;
            assert.deepEqual([of("team-b").roleArn, of("team-b").targetRoleArn], [KF_USER_ARN, partner]);
            assert.deepEqual([of("team-c").roleArn, of("team-c").targetRoleArn], [own, undefined]);
            assertOneWriterPerRole(run);
        });
    });
});
