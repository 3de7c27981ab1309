// `npm run synth` in-process (cli/synth.ts's main): the dev stack's names, throw-away project and
// output directories, and readers of what synth wrote, shared by the tests of tests/cli/synth*.

import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments, stringify as toYaml } from "yaml";
import { main } from "../../cli/synth";

export const ROOT = path.resolve(__dirname, "..", "..");
export const ACCOUNT = "123456789012";
export const DEV = {
    admin: "kf-admin-us-west-2-kf-dev",
    user: "kf-user-us-west-2-kf-dev",
    external: "data-eng-pipelines",
    lbc: "kf-lbc-us-west-2-kf-dev",
    logs: "kf-logs-us-west-2-kf-dev",
    fsx: "kf-fsx-us-west-2-kf-dev",
};
/** The values the program fills into components/policies/*.json for the dev stack. */
export const DEV_POLICY_VARS = { partition: "aws", region: "us-west-2", cluster: "kf-dev" };
export const EXTERNAL_ARN = `arn:aws:iam::${ACCOUNT}:role/${DEV.external}`;
export const editor = (namespace: string) => `system:serviceaccount:${namespace}:default-editor`;

export interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

export async function synth(...argv: string[]): Promise<Result> {
    let stdout = "";
    let stderr = "";
    const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
    return { code, stdout, stderr };
}

const tmpDirs: string[] = [];
export function tmpDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `synth-${prefix}-`));
    tmpDirs.push(dir);
    return dir;
}

/** Removes every directory tmpDir made; for the root suite's after(). */
export function removeTmpDirs(): void {
    for (const dir of tmpDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A project directory with this project's Pulumi.yaml and one stack file. */
export function project(stack: string, config: Record<string, unknown>): string {
    const dir = tmpDir("project");
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), toYaml({ config }));
    return dir;
}

export const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), "utf8");
export const readJson = <T>(dir: string, file: string): T => JSON.parse(read(dir, file)) as T;
export const yamlDocs = (dir: string, file: string) => parseAllDocuments(read(dir, file)).map((d) => d.toJS() as Record<string, any>);
export const PERMISSIONS = "permission-policies";
/** The role directories under permission-policies/, and each one's policy files. */
export const permissionTree = (out: string): Record<string, string[]> =>
    Object.fromEntries(fs.readdirSync(path.join(out, PERMISSIONS)).sort().map((role) => [role, fs.readdirSync(path.join(out, PERMISSIONS, role)).sort()]));
export const assertPretty = (text: string, file: string) => assert.equal(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`, `${file} is not pretty-printed`);
/** Every condition key of a policy document's statements. */
export const conditionKeys = (policy: { Statement: { Condition?: Record<string, Record<string, unknown>> }[] }) =>
    policy.Statement.flatMap((s) => Object.values(s.Condition ?? {}).flatMap((block) => Object.keys(block)));

export interface WebIdentityStatement {
    Effect: string;
    Principal: { Federated: string };
    Action: string;
    Condition: { StringEquals: Record<string, string | string[]> };
}
export interface Policy {
    Version: string;
    Statement: WebIdentityStatement[];
}

export function assertOk(result: Result): void {
    assert.equal(result.code, 0, `exit ${result.code}\nstderr: ${result.stderr}`);
    assert.equal(result.stderr, "");
}
