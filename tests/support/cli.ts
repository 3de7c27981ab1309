// The command-line entry points run as a user runs them: a child process in the repository, in an
// environment the test controls. The caller's environment is inherited, minus what would change
// what the tests observe: Node's own switches that silence warnings (NODE_NO_WARNINGS=1 is common
// in CI images; --no-warnings and friends in NODE_OPTIONS). A test that needs one sets it itself.
import { execFile } from "child_process";
import { resolve } from "path";

export const ROOT = resolve(__dirname, "..", "..");

export interface CliRun {
    code: number;
    stdout: string;
    stderr: string;
}

/** NODE_OPTIONS flags that hide or move warnings (nodejs.org/api/cli.html). */
const WARNING_FLAGS = /^--(no-warnings|no-deprecation|redirect-warnings|disable-warning)(=|$)/;

/** The child's environment: the caller's, without warning suppression, plus `extra`. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_NO_WARNINGS;
    const options = (env.NODE_OPTIONS ?? "").split(/\s+/).filter((o) => o !== "" && !WARNING_FLAGS.test(o));
    if (options.length > 0) env.NODE_OPTIONS = options.join(" ");
    else delete env.NODE_OPTIONS;
    return { ...env, ...extra };
}

/** Runs a command in the repository, asynchronously (a local IAM endpoint may answer from this process). */
export function runCli(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
    return new Promise((done) => {
        execFile(file, args, { cwd: ROOT, env: childEnv(env), timeout: 120_000 }, (err, stdout, stderr) => {
            const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
            done({ code, stdout, stderr });
        });
    });
}

/** `node -r ts-node/register/transpile-only <script> …`: a CLI's TypeScript source, as its bin runs it. */
export const runTs = (script: string, args: string[], env: NodeJS.ProcessEnv = {}) => runCli(process.execPath, ["-r", "ts-node/register/transpile-only", script, ...args], env);
