// The doctor CLI in-process (cli/doctor.ts's main) against a local IAM endpoint: the fixtures its
// tests share (an EKS issuer and its provider, kf-user's trust policy as the project writes it),
// the runs, and the environment that points the AWS SDK at the endpoint and nowhere else.

import { copyFileSync, mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { main } from "../../cli/doctor";
import { FakeIam } from "./fakeIam";

export const ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
export const OTHER_ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0THERC1USTER0000000000000000000";
export const ACCOUNT = "123456789012";
export const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`;
export const OTHER_PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${OTHER_ISSUER}`;
export const ROLE = "kf-user-us-west-2-kf-dev";
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/${ROLE}`;
export const TEAM_A = "system:serviceaccount:team-a:default-editor";
export const TEAM_B = "system:serviceaccount:team-b:default-editor";

export type Condition = Record<string, Record<string, string | string[]>>;

export function webIdentity(condition: Condition | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        Effect: "Allow",
        Principal: { Federated: PROVIDER },
        Action: "sts:AssumeRoleWithWebIdentity",
        ...(condition ? { Condition: condition } : {}),
        ...extra,
    };
}

/** What the project writes for the profiles team-a and kubeflow:kf-user. */
export const profilesPolicy = (subjects: string | string[] = [TEAM_A, "system:serviceaccount:kubeflow:kf-user"]) => ({
    Version: "2012-10-17",
    Statement: [webIdentity({ StringEquals: { [`${ISSUER}:aud`]: "sts.amazonaws.com", [`${ISSUER}:sub`]: subjects } }, { Sid: "KubeflowProfiles" })],
});

export interface Run {
    code: number;
    out: string;
    err: string;
}

export async function doctor(...argv: string[]): Promise<Run> {
    let out = "";
    let err = "";
    const code = await main(argv, { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } });
    return { code, out, err };
}

/** `--json` output, parsed. */
export async function doctorJson(...argv: string[]): Promise<{ code: number; json: Record<string, unknown> }> {
    const { code, out } = await doctor(...argv, "--json");
    return { code, json: JSON.parse(out) as Record<string, unknown> };
}

/** A temporary project directory with this project's Pulumi.yaml, for stack files of a test's own. */
export function projectCopy(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    copyFileSync(join(__dirname, "..", "..", "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
    return dir;
}

const ENV_KEYS = ["AWS_ENDPOINT_URL_IAM", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"];

/**
 * For the suite it is called in: a fresh local IAM endpoint per test, knowing the EKS provider of
 * ISSUER, with the AWS environment pointed at it (no config or credentials file of this machine)
 * and restored after the suite. `use` gets each test's endpoint before the test runs.
 */
export function doctorIamForSuite(use: (fake: FakeIam) => void): void {
    let fake: FakeIam;
    let dir: string;
    const savedEnv: Record<string, string | undefined> = {};

    before(async () => {
        dir = mkdtempSync(join(tmpdir(), "doctor-test-"));
        for (const key of ENV_KEYS) savedEnv[key] = process.env[key];
    });
    after(() => {
        rmSync(dir, { recursive: true, force: true });
        for (const key of ENV_KEYS) {
            if (savedEnv[key] === undefined) delete process.env[key];
            else process.env[key] = savedEnv[key];
        }
    });
    beforeEach(async () => {
        fake = await FakeIam.start({ accountId: ACCOUNT });
        process.env.AWS_ENDPOINT_URL_IAM = fake.endpoint;
        process.env.AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
        process.env.AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        process.env.AWS_REGION = "us-east-1";
        delete process.env.AWS_SESSION_TOKEN;
        delete process.env.AWS_PROFILE;
        process.env.AWS_CONFIG_FILE = join(dir, "no-config");
        process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, "no-credentials");
        fake.putOidcProvider(`https://${ISSUER}`, ["sts.amazonaws.com"]);
        use(fake);
    });
    afterEach(async () => {
        await fake.close();
    });
}
