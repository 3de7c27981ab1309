// Names and identifiers of the IRSA domain: Kubernetes service-account subjects, IAM role and
// OIDC-provider ARNs. Pure functions, shared by the program's config validation and the dynamic
// provider's `check`, so both reject exactly the same inputs with the same words.

/** The service account the Kubeflow profile controller creates in every profile namespace. */
export const DEFAULT_EDITOR = "default-editor";

/** Every service-account subject starts so (the `sub` claim of EKS projected tokens). */
export const SUBJECT_PREFIX = "system:serviceaccount:";

/** RFC 1123 label: what Kubernetes accepts as a namespace name. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_LABEL_MAX = 63;
/** RFC 1123 subdomain: what Kubernetes accepts as a service-account name. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_SUBDOMAIN_MAX = 253;
/** A namespace or service-account pattern: the name's characters plus IAM's `*` and `?`. */
const WILDCARD_LABEL = /^[-a-z0-9*?]+$/;
/** What a StringLike pattern for a namespace or service account may hold (non-empty). */
const WILDCARD_SUBDOMAIN = /^[-.a-z0-9*?]+$/;

/** IAM role names: 1–64 of [\w+=,.@-] (IAM API reference, CreateRole). */
export const ROLE_NAME_MAX = 64;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const PARTITION = "aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b";
const ROLE_ARN = new RegExp(`^arn:(${PARTITION}):iam::(\\d{12}):role/((?:[\\x21-\\x7e]+/)*)([\\w+=,.@-]{1,64})$`);
const OIDC_PROVIDER_ARN = new RegExp(`^arn:(${PARTITION}):iam::(\\d{12}):oidc-provider/([a-z0-9.-]+(?::\\d+)?(?:/[\\w.~-]+)*)$`);

/** Why a namespace name is not acceptable, or undefined when it is. */
export function namespaceProblem(namespace: string): string | undefined {
    if (namespace.length > DNS_LABEL_MAX) {
        return `"${namespace}" is ${namespace.length} characters; a Kubernetes namespace has at most ${DNS_LABEL_MAX}`;
    }
    if (!DNS_LABEL.test(namespace)) {
        return `"${namespace}" is not a valid Kubernetes namespace: use lower-case letters, digits and '-', starting and ending with a letter or digit (RFC 1123 label)`;
    }
    return undefined;
}

/** Why a service-account name is not acceptable, or undefined when it is. */
export function serviceAccountProblem(name: string): string | undefined {
    if (name.length > DNS_SUBDOMAIN_MAX || !DNS_SUBDOMAIN.test(name)) {
        return `"${name}" is not a valid Kubernetes service-account name: use lower-case letters, digits, '-' and '.' (RFC 1123 subdomain, at most ${DNS_SUBDOMAIN_MAX} characters)`;
    }
    return undefined;
}

/**
 * The namespace of anchor subjects: not an RFC 1123 label (it holds a '.'; `.invalid` is the
 * top-level domain reserved for names that never resolve, RFC 2606), so Kubernetes never creates
 * it and never issues a token whose `sub` names it. An anchor keeps a trust statement valid
 * without granting the role to any pod.
 */
export const ANCHOR_NAMESPACE = "kubeflow-irsa.invalid";

/** The anchor subject of a role: `system:serviceaccount:kubeflow-irsa.invalid:<name>`. */
export function anchorSubject(name: string): string {
    return subjectOf(ANCHOR_NAMESPACE, name);
}

/** `system:serviceaccount:<namespace>:<serviceAccount>`, the `sub` claim of an EKS projected token. */
export function subjectOf(namespace: string, serviceAccount: string = DEFAULT_EDITOR): string {
    return `${SUBJECT_PREFIX}${namespace}:${serviceAccount}`;
}

/** `namespace:name` (the config's short form) to a full subject; undefined when malformed. */
export function parseServiceAccountRef(ref: string): { namespace: string; serviceAccount: string } | undefined {
    const parts = ref.split(":");
    if (parts.length !== 2) return undefined;
    return { namespace: parts[0], serviceAccount: parts[1] };
}

/** A well-formed `namespace:name` reference as its `sub` subject. */
export function subjectOfRef(ref: string): string {
    const sa = parseServiceAccountRef(ref);
    if (!sa) throw new Error(`not a "namespace:name" service account: ${JSON.stringify(ref)}`);
    return subjectOf(sa.namespace, sa.serviceAccount);
}

/** True when the text holds an IAM string-condition wildcard. */
export function hasWildcard(text: string): boolean {
    return /[*?]/.test(text);
}

/**
 * Why a subject is not acceptable, or undefined when it is. With `allowWildcards`, `*` and `?` may
 * stand in the namespace or service-account part (they are matched with StringLike).
 */
export function subjectProblem(subject: string, allowWildcards = false): string | undefined {
    if (!subject.startsWith(SUBJECT_PREFIX)) {
        return `"${subject}" is not a service-account subject: expected "${SUBJECT_PREFIX}<namespace>:<name>"`;
    }
    const rest = subject.slice(SUBJECT_PREFIX.length).split(":");
    if (rest.length !== 2) {
        return `"${subject}" is not a service-account subject: expected "${SUBJECT_PREFIX}<namespace>:<name>"`;
    }
    if (/["\\\s$]/.test(subject)) {
        return `"${subject}" contains a quote, backslash, '$' or white space, which no Kubernetes name has`;
    }
    const [namespace, serviceAccount] = rest;
    if (hasWildcard(subject)) {
        if (!allowWildcards) {
            return `"${subject}" contains a wildcard ('*' or '?'), which would trust every matching service account; name each namespace and service account, or set allowWildcards to opt in`;
        }
        // A namespace pattern must still name something: "*" (or "?*") matches every namespace,
        // which makes the statement as open as an aud-only one.
        if (!hasWildcard(namespace)) {
            const literal = namespaceProblem(namespace);
            if (literal) return literal;
        } else if (namespace.length > DNS_LABEL_MAX || !WILDCARD_LABEL.test(namespace)) {
            return `"${subject}": the namespace pattern "${namespace}" may hold only lower-case letters, digits, '-', '*' and '?' (at most ${DNS_LABEL_MAX} characters)`;
        } else if (!/[a-z0-9-]/.test(namespace)) {
            return `"${subject}": the namespace pattern "${namespace}" matches every namespace, so any service account in the cluster could assume the role; give it a literal part (e.g. "team-*"), or name the namespace`;
        }
        if (serviceAccount.length > DNS_SUBDOMAIN_MAX || !WILDCARD_SUBDOMAIN.test(serviceAccount)) {
            return `"${subject}": the service-account pattern "${serviceAccount}" may hold only lower-case letters, digits, '-', '.', '*' and '?' (at most ${DNS_SUBDOMAIN_MAX} characters)`;
        }
        return undefined;
    }
    // An anchor's namespace is invalid on purpose (see ANCHOR_NAMESPACE).
    return (namespace === ANCHOR_NAMESPACE ? undefined : namespaceProblem(namespace)) ?? serviceAccountProblem(serviceAccount);
}

export interface RoleRef {
    /** The role's name, what UpdateAssumeRolePolicy takes. */
    name: string;
    /** The role's ARN when it was given as one. */
    arn?: string;
    partition?: string;
    accountId?: string;
}

/** A role given as a name or an ARN; undefined when it is neither. */
export function parseRoleRef(ref: string): RoleRef | undefined {
    const arn = ROLE_ARN.exec(ref);
    if (arn) return { name: arn[4], arn: ref, partition: arn[1], accountId: arn[2] };
    if (ROLE_NAME.test(ref)) return { name: ref };
    return undefined;
}

/**
 * Who a role is: its account and its case-folded name. IAM role names are case-insensitive
 * ("KfUser" and "kfuser" are one role) and unique per account whatever their path; an ARN fixes
 * the account, a bare name is in `account` — the one the credentials reach — when that is known.
 * Undefined for text that is neither a role name nor a role ARN.
 */
export function roleIdentity(ref: string, account?: string): { accountId?: string; name: string } | undefined {
    const parsed = parseRoleRef(ref);
    if (!parsed) return undefined;
    const accountId = parsed.accountId ?? account;
    return { ...(accountId ? { accountId } : {}), name: parsed.name.toLowerCase() };
}

/**
 * Whether two references name one role. A bare name stands for the role of that name in `account`
 * (when known) and matches an ARN of any account when not; two different accounts never match.
 * The one rule for role identity: the provider, placement, synth and the doctor all call it.
 */
export function sameRole(a: string, b: string, account?: string): boolean {
    const [ra, rb] = [roleIdentity(a, account), roleIdentity(b, account)];
    if (!ra || !rb) return a === b;
    if (ra.accountId && rb.accountId && ra.accountId !== rb.accountId) return false;
    return ra.name === rb.name;
}

/**
 * Whether a role reference is in `account`: an ARN of that account, or a bare name (the role of that
 * name where the credentials reach). Part of the one rule above: callers never compare accounts themselves.
 */
export function inAccount(ref: string, account: string): boolean {
    return roleIdentity(ref, account)?.accountId === account;
}

/** A stable key per role (`<account>/<lower-case name>`; `?/<name>` when the account is unknown). */
export function roleKey(ref: string, account?: string): string {
    const id = roleIdentity(ref, account);
    return id ? `${id.accountId ?? "?"}/${id.name}` : ref;
}

/** The role's name from a name or an ARN (what IAM's API takes); other text as it is. */
export function roleNameOf(role: string): string {
    return parseRoleRef(role)?.name ?? role;
}

/** Why a role ARN is not acceptable, or undefined when it is. */
export function roleArnProblem(arn: string): string | undefined {
    if (ROLE_ARN.test(arn)) return undefined;
    return `"${arn}" is not an IAM role ARN: expected "arn:aws:iam::<12-digit account>:role/<name>" with a name of at most ${ROLE_NAME_MAX} characters of [A-Za-z0-9+=,.@_-]`;
}

export interface OidcProviderRef {
    partition: string;
    accountId: string;
    /** The issuer as IAM condition keys spell it: the issuer URL without `https://`. */
    issuer: string;
}

/** An IAM OIDC provider ARN; undefined when malformed. */
export function parseOidcProviderArn(arn: string): OidcProviderRef | undefined {
    const match = OIDC_PROVIDER_ARN.exec(arn);
    if (!match) return undefined;
    return { partition: match[1], accountId: match[2], issuer: match[3] };
}

/** Why an OIDC provider ARN is not acceptable, or undefined when it is. */
export function oidcProviderArnProblem(arn: string): string | undefined {
    if (parseOidcProviderArn(arn)) return undefined;
    return `"${arn}" is not an IAM OIDC provider ARN: expected "arn:aws:iam::<12-digit account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<ID>"`;
}

/** The issuer host/path as condition keys use it: strips `https://` and a trailing slash. */
export function issuerHostPath(issuerUrl: string): string {
    return issuerUrl.replace(/^https:\/\//, "").replace(/\/+$/, "");
}
