/**
 * What the local IAM endpoint (./fakeIam.ts) checks and how it answers, as IAM does: the Query
 * protocol's parameters and XML, its errors, the tag rules, and the trust-policy grammar and the
 * ACLSizePerRole quota, measured on the text as sent (not with the production code's formula).
 */
import { randomBytes } from "crypto";

export const XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/";
export const API_VERSION = "2010-05-08";

/** An error answered as `<ErrorResponse>` with the given HTTP status. */
export class IamError extends Error {
  constructor(readonly code: string, readonly status: number, message: string) {
    super(message);
  }
}

export const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] ?? c);
export const el = (tag: string, text: string | number | boolean): string => `<${tag}>${escapeXml(String(text))}</${tag}>`;
export const memberList = (tag: string, values: string[]): string => `<${tag}>${values.map((v) => el("member", v)).join("")}</${tag}>`;
/** IAM timestamps are ISO 8601 without milliseconds. */
export const isoNow = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
/** Role ids look like `AROA` + 17 upper-case alphanumerics. */
export const uniqueId = (prefix: string): string => prefix + randomBytes(17).toString("hex").toUpperCase().slice(0, 17);
/** IAM role names are case-insensitive: "MyRole" and "myrole" are the same role. */
export const roleKey = (name: string): string => name.toLowerCase();
export const stripScheme = (url: string): string => url.replace(/^https:\/\//i, "");
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** AWS returns a ValidationError (400) when a required parameter is absent. */
export function required(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (value === null || value === "") {
    const field = name[0].toLowerCase() + name.slice(1);
    throw new IamError("ValidationError", 400, `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
  }
  return value;
}

/** Query-protocol lists arrive as `Name.member.1=a&Name.member.2=b`. */
export function list(params: URLSearchParams, name: string): string[] {
  const out: string[] = [];
  for (let i = 1; params.has(`${name}.member.${i}`); i++) out.push(params.get(`${name}.member.${i}`) as string);
  return out;
}

/** IAM's tag rules (IAM user guide, id_tags): 50 per role, keys of 1–128 and values of 0–256 characters of
 * letters, digits, white space and `_ . : / = + - @`; the `aws:` prefix is reserved. */
export const MAX_TAGS = 50;
export function checkTag(key: string, value: string): void {
  const charset = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
  if (key.length < 1 || key.length > 128 || !charset.test(key)) throw new IamError("ValidationError", 400, `1 validation error detected: Value '${key}' at 'tags.1.member.key' failed to satisfy constraint`);
  if (value.length > 256 || !charset.test(value)) throw new IamError("ValidationError", 400, `1 validation error detected: Value '${value}' at 'tags.1.member.value' failed to satisfy constraint`);
  if (key.toLowerCase().startsWith("aws:")) throw new IamError("InvalidInput", 400, "User-defined tag keys can't start with 'aws:'");
}

/**
 * The size IAM charges against the ACLSizePerRole quota: the characters of the document *as sent*,
 * not counting white space (space, tab, CR, LF). This is measured on the raw text on purpose, not on a
 * re-serialization of the parsed JSON, so the fake does not share the production code's formula.
 *
 * Simplification: white space inside JSON string values is not counted either. IAM says it ignores
 * white space; the documents this project writes never carry white space inside strings, so the
 * difference does not matter here. Characters are counted as UTF-16 code units (String length).
 */
export function quotaSize(document: string): number {
  return document.replace(/[ \t\r\n]/g, "").length;
}

/**
 * Validates a role trust policy the way IAM does (simplified) and enforces the ACLSizePerRole quota,
 * measured by {@link quotaSize} (white space does not count).
 */
export function checkTrustPolicy(document: string, quota: number): void {
  const malformed = (message: string) => new IamError("MalformedPolicyDocument", 400, message);
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    throw malformed("Syntax errors in policy.");
  }
  if (!isRecord(parsed)) throw malformed("Syntax errors in policy.");
  if (parsed.Statement === undefined) throw malformed("Missing required field Statement");
  const statements: unknown[] = Array.isArray(parsed.Statement) ? parsed.Statement : [parsed.Statement];
  for (const s of statements) {
    if (!isRecord(s)) throw malformed("Syntax errors in policy.");
    if (s.Effect === undefined) throw malformed("Missing required field Effect");
    if (s.Effect !== "Allow" && s.Effect !== "Deny") throw malformed(`Invalid effect: ${String(s.Effect)}`);
    // A trust policy must name who may assume the role, and must not name a Resource (AWS docs).
    if (s.Principal === undefined && s.NotPrincipal === undefined) throw malformed("Missing required field Principal");
    if (s.Action === undefined && s.NotAction === undefined) throw malformed("Missing required field Action");
    if (s.Resource !== undefined) throw malformed("Has prohibited field Resource");
  }
  if (quotaSize(document) > quota) {
    throw new IamError("LimitExceeded", 409, `Cannot exceed quota for ACLSizePerRole: ${quota}`);
  }
}

/** A role as the local IAM endpoint keeps it. */
export interface StoredRole {
  name: string;
  path: string;
  id: string;
  arn: string;
  createDate: string;
  document: string;
  /** Every document the role has had, with when it was set (for lagging reads). */
  history: { at: number; document: string }[];
  /** Tags in the order set; IAM compares tag keys case-insensitively. */
  tags: { key: string; value: string }[];
}

/** Like AWS, the trust policy goes out URL-encoded (RFC 3986); the SDK hands it over undecoded. */
export function roleXml(tag: string, r: StoredRole): string {
  return (
    `<${tag}>` +
    el("Path", r.path) +
    el("RoleName", r.name) +
    el("RoleId", r.id) +
    el("Arn", r.arn) +
    el("CreateDate", r.createDate) +
    el("AssumeRolePolicyDocument", encodeURIComponent(r.document)) +
    el("MaxSessionDuration", 3600) +
    (r.tags.length > 0 ? `<Tags>${r.tags.map((t) => `<member>${el("Key", t.key)}${el("Value", t.value)}</member>`).join("")}</Tags>` : "") +
    `</${tag}>`
  );
}
