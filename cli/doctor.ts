#!/usr/bin/env -S node --require ts-node/register/transpile-only
// `npm run doctor -- …`: can this service account assume this role? Reads the live trust policy
// (and the IAM OIDC provider) and explains IAM's verdict statement by statement, with the exact
// change that would fix a denial. Read-only: it calls iam:GetRole and iam:GetOpenIDConnectProvider.
// `--stack <name> --offline` judges, with the same evaluator and no AWS call, the trust policies
// `up` would write (synth's synthesis of the stack, cli/synthStack.ts).
//
// This file is the command line: the mode the flags pick, the output (text or --json) and the exit
// code. The modes: doctorRole.ts (--role, --token), doctorStack.ts (--stack, live), doctorOffline.ts
// (--stack --offline, --s3). Their parts: doctorFlags.ts (flags, --help), doctorIam.ts (the IAM
// reads), doctorVerdict.ts (one caller against one role), doctorToken.ts (tokens), doctorDrain.ts
// (moves not finished), s3Access.ts (what --s3 judges).
//
// Exit codes: 0 allowed, 1 denied, 2 usage or AWS error, 3 (--s3) not allowed by the policies `up`
// attaches, but managed policies not known offline may allow it.

import { renderS3Access } from "./s3Access";
import { DoctorError, renderSignatureReport } from "./doctorToken";
import { forbid, HELP, parseFlags, type Flags } from "./doctorFlags";
import { muteNodeVersionSupportWarning } from "./outputHygiene";
import { renderRoleReport } from "./doctorVerdict";
import { roleMode, signatureMode, tokenMode } from "./doctorRole";
import { renderStackReport, stackMode } from "./doctorStack";
import { OFFLINE_FLAGS, OFFLINE_ONLY, offlineStackMode, s3Mode } from "./doctorOffline";

export const EXIT_ALLOWED = 0;
export const EXIT_DENIED = 1;
export const EXIT_ERROR = 2;
/** --s3: the policies `up` attaches do not allow it, but managed policies not known offline may. */
export const EXIT_UNKNOWN = 3;

/** Where the CLI writes; `process` fits, and tests pass collectors. */
export interface DoctorIo {
    stdout: { write(text: string): unknown };
    stderr: { write(text: string): unknown };
}

async function run(flags: Flags): Promise<{ allowed: boolean; text: string; json: unknown; exit?: number }> {
    if (flags.s3 !== undefined) {
        const report = await s3Mode(flags);
        return { allowed: report.allowed, text: renderS3Access(report), json: report, ...(report.verdict === "unknown" ? { exit: EXIT_UNKNOWN } : {}) };
    }
    if (flags.offline) {
        forbid(flags, OFFLINE_FLAGS, `with --offline: ${OFFLINE_ONLY}; --role, --token and --provider-arn check live IAM, --region and --profile choose it (leave out --offline for those)`);
        if (flags.stack === undefined) throw new DoctorError(`--offline needs --stack <name>: ${OFFLINE_ONLY}; run with --help for usage`);
        const report = await offlineStackMode(flags, flags.stack);
        return { allowed: report.allowed, text: renderStackReport(report), json: report };
    }
    if (flags.stack !== undefined) {
        const report = await stackMode(flags, flags.stack);
        return { allowed: report.allowed, text: renderStackReport(report), json: report };
    }
    forbid(flags, ["projectDir", "config"], "without --stack: they say where the stack is and set its config values");
    if (flags.role === undefined && flags.namespace === undefined && flags.token === undefined) {
        throw new DoctorError("give --role with --namespace or --token, or --stack; run with --help for usage");
    }
    if (flags.token !== undefined && flags.jwks !== undefined && flags.role === undefined) {
        const report = await signatureMode(flags, flags.token);
        return { allowed: report.allowed, text: renderSignatureReport(report), json: report };
    }
    if (flags.jwks !== undefined && flags.token === undefined) throw new DoctorError("--jwks goes with --token <file>: it verifies that token's signature");
    const report = flags.token !== undefined ? await tokenMode(flags, flags.token) : await roleMode(flags);
    return { allowed: report.allowed, text: renderRoleReport(report), json: report };
}

/** Runs the doctor; resolves to the exit code. Expected failures never throw. */
export async function main(argv: string[], io: DoctorIo): Promise<number> {
    let json = argv.includes("--json");
    try {
        const flags = parseFlags(argv);
        json = flags.json;
        if (flags.help) {
            io.stdout.write(HELP);
            return EXIT_ALLOWED;
        }
        const result = await run(flags);
        io.stdout.write(json ? JSON.stringify(result.json, null, 2) + "\n" : result.text);
        return result.exit ?? (result.allowed ? EXIT_ALLOWED : EXIT_DENIED);
    } catch (err) {
        if (!(err instanceof DoctorError)) throw err;
        io.stderr.write(`doctor: ${err.message}\n`);
        if (json) io.stdout.write(JSON.stringify({ error: err.message }, null, 2) + "\n");
        return EXIT_ERROR;
    }
}

if (require.main === module) {
    muteNodeVersionSupportWarning();
    main(process.argv.slice(2), process).then(
        (code) => {
            process.exitCode = code;
        },
        (err: unknown) => {
            // Only a bug lands here; show everything.
            process.stderr.write(`doctor: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
            process.exitCode = EXIT_ERROR;
        },
    );
}
