// Output hygiene of the command-line entry points (cli/synth.ts, cli/doctor.ts): stderr carries
// only their own messages.

const NODE_VERSION_SUPPORT_WARNING = "NodeVersionSupportWarning";
const MUTED = Symbol.for("kubeflow-irsa.muteNodeVersionSupportWarning");

/**
 * Whether a `process.emitWarning(warning, typeOrOptions)` call is the AWS SDK's Node-version
 * notice: by its type or name, or — as @aws-sdk/core emits it, a plain string of type "Warning" —
 * by the message's first word.
 */
export function isNodeVersionSupportWarning(warning: unknown, typeOrOptions?: unknown): boolean {
    const type = typeof typeOrOptions === "string" ? typeOrOptions : (typeOrOptions as { type?: unknown } | undefined)?.type;
    const name = warning instanceof Error ? warning.name : undefined;
    const message = warning instanceof Error ? warning.message : String(warning);
    return type === NODE_VERSION_SUPPORT_WARNING || name === NODE_VERSION_SUPPORT_WARNING || message.trimStart().startsWith(NODE_VERSION_SUPPORT_WARNING);
}

/**
 * Drops the AWS SDK's NodeVersionSupportWarning (Node < 22: SDK releases from 2027 on need Node
 * 22; see README, Prerequisites). It says nothing about the command's result, and written to
 * stderr in the middle of a run it interleaves with the output a terminal or a pipe reads. Every
 * other warning is emitted as before. For the command-line entry points only; idempotent.
 */
export function muteNodeVersionSupportWarning(): void {
    const emit = process.emitWarning as ((...args: unknown[]) => void) & { [MUTED]?: true };
    if (emit[MUTED]) return;
    const filtered = function (this: unknown, warning: unknown, ...rest: unknown[]): void {
        if (isNodeVersionSupportWarning(warning, rest[0])) return;
        emit.call(process, warning, ...rest);
    };
    process.emitWarning = Object.assign(filtered, { [MUTED]: true as const }) as unknown as typeof process.emitWarning;
}
