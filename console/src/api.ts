// Calls to the appliance's own APIs: the faces' routes (NetHSM /api/v1, the appliance face,
// the backup-client face, Strongroom's /api/strongroom/v1) and the console's session. The
// session cookie is HttpOnly (this code never sees it); every request carries the session's
// CSRF token, without which the server ignores the cookie.

export class ApiError extends Error {
  status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface Session {
  userId: string;
  role: 'Administrator' | 'Operator' | 'Metrics' | 'Backup';
  namespace?: string;
  csrfToken: string;
}

let csrf: string | null = null;
let onSignedOut: (() => void) | null = null;

export function useSession(session: Session | null, signedOut: () => void) {
  csrf = session?.csrfToken ?? null;
  onSignedOut = signedOut;
}

export const NETHSM = '/api/v1';
export const STRONGROOM = '/api/strongroom/v1';
export const APPLIANCE = '/api/rest/configure/v1';
export const BACKUP_CLIENT = '/commandcenter/api';

// Each face words its errors its own way: NetHSM and Strongroom's API `{"message"}`, the
// appliance face `{"error_code", "message"}`, the backup-client face `errorMessage`.
async function messageOf(r: Response): Promise<string> {
  const text = await r.text();
  try {
    const body = JSON.parse(text);
    const message = body.message ?? body.errorMessage ?? body.error?.errorMessage;
    if (typeof message === 'string' && message) return message;
  } catch {
    // not JSON
  }
  if (r.status === 401) return 'Your session has ended: sign in again.';
  if (r.status === 403) return 'Your account’s role does not allow this.';
  return text.trim() || `${r.status} ${r.statusText}`;
}

export interface RequestOptions {
  json?: unknown;
  accept?: string;
  /// A body that is not JSON (a certificate), sent with this media type.
  body?: { type: string; data: string };
}

export async function request(method: string, path: string, opts: RequestOptions = {}) {
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' };
  if (csrf) headers['X-Strongroom-Csrf'] = csrf;
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body) {
    headers['Content-Type'] = opts.body.type;
    body = opts.body.data;
  }
  const r = await fetch(path, {
    method,
    headers,
    body,
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!r.ok) {
    const error = new ApiError(r.status, await messageOf(r));
    // A session that ended (idle time, lock, password change elsewhere) sends the user back
    // to sign in; a wrong password given to a form does not (it is a 4xx of its own).
    if (r.status === 401 && csrf && !path.startsWith('/console/')) onSignedOut?.();
    throw error;
  }
  return r;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await request('GET', path)).json();
}

export async function send<T = void>(method: string, path: string, json?: unknown): Promise<T> {
  const r = await request(method, path, { json });
  if (r.status === 204 || r.headers.get('content-length') === '0') return undefined as T;
  const text = await r.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function currentSession(): Promise<Session | null> {
  const r = await fetch('/console/api/session', { credentials: 'same-origin', cache: 'no-store' });
  if (r.status === 401) return null;
  if (!r.ok) throw new ApiError(r.status, await messageOf(r));
  return r.json();
}

export async function signIn(userId: string, passphrase: string): Promise<Session> {
  const r = await fetch('/console/api/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ userId, passphrase }),
    credentials: 'same-origin',
  });
  if (!r.ok) throw new ApiError(r.status, await messageOf(r));
  return r.json();
}

export async function signOut(): Promise<void> {
  await request('DELETE', '/console/api/session');
}

export type NodeState = 'Unprovisioned' | 'Locked' | 'Operational';

export async function nodeState(): Promise<NodeState> {
  const r = await fetch(`${NETHSM}/health/state`, { headers: { Accept: 'application/json' } });
  if (!r.ok) throw new ApiError(r.status, await messageOf(r));
  return (await r.json()).state;
}

export function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/// A passkey goes to the backup-client face base64-encoded, as backup software sends it.
export function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  bytes.forEach((b) => (binary += String.fromCharCode(b)));
  return btoa(binary);
}

/// How far the appliance's clock is ahead of this browser's, in milliseconds, from the Date
/// header of an answer: times the appliance reports (the end of a restore authorization) are
/// on its clock, and a countdown shown here must not depend on this computer's clock.
export function clockOffset(r: Response): number {
  const date = Date.parse(r.headers.get('date') ?? '');
  return Number.isNaN(date) ? 0 : date - Date.now();
}
