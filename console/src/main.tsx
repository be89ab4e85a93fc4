// The console's shell: which state the node is in (a Locked node is unlocked here, before
// anyone can sign in, as on NetHSM), sign-in, and the pages behind it, chosen by the URL's
// fragment (#/users) so every page has an address and the browser's back button works.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import {
  type NodeState,
  type Session,
  NETHSM,
  currentSession,
  describe,
  nodeState,
  send,
  signIn,
  signOut,
  useSession,
} from './api';
import { Field, Message, useAction } from './ui';
import { Dashboard } from './pages/dashboard';
import { Users } from './pages/users';
import { Clients } from './pages/clients';
import { Audit } from './pages/audit';
import { Backup } from './pages/backup';
import { Password } from './pages/password';
import { Keys } from './pages/keys';
import { Administration } from './pages/admin';

const PAGES = [
  { path: 'dashboard', title: 'Dashboard', page: Dashboard },
  { path: 'users', title: 'Users', page: Users },
  { path: 'keys', title: 'Keys', page: Keys },
  { path: 'clients', title: 'Backup clients', page: Clients },
  { path: 'audit', title: 'Audit trail', page: Audit },
  { path: 'backup', title: 'Backup', page: Backup },
  { path: 'password', title: 'Appliance password', page: Password },
  { path: 'admin', title: 'Administration', page: Administration },
] as const;

function currentPath() {
  const path = location.hash.replace(/^#\/?/, '');
  return PAGES.some((p) => p.path === path) ? path : 'dashboard';
}

function Unlock({ onUnlocked }: { onUnlocked: () => void }) {
  const [passphrase, setPassphrase] = useState('');
  const [outcome, busy, act] = useAction();
  return (
    <main id="main" class="narrow">
      <h1>Unlock Strongroom</h1>
      <p>The node is locked: its store stays sealed until the unlock passphrase is given.</p>
      <form
        onSubmit={act(async () => {
          await send('POST', `${NETHSM}/unlock`, { passphrase });
          setPassphrase('');
          onUnlocked();
          return 'Unlocked.';
        })}
      >
        <Field
          label="Unlock passphrase"
          type="password"
          value={passphrase}
          onInput={setPassphrase}
          autocomplete="current-password"
          required
        />
        <button type="submit" disabled={busy}>
          Unlock
        </button>
      </form>
      <Message outcome={outcome} />
    </main>
  );
}

function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [userId, setUserId] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [outcome, busy, act] = useAction();
  return (
    <main id="main" class="narrow">
      <h1>Sign in to Strongroom</h1>
      <form
        onSubmit={act(async () => {
          const session = await signIn(userId, passphrase);
          setPassphrase('');
          onSignedIn(session);
          return 'Signed in.';
        })}
      >
        <Field
          label="User id"
          value={userId}
          onInput={setUserId}
          autocomplete="username"
          name="username"
          required
        />
        <Field
          label="Passphrase"
          type="password"
          value={passphrase}
          onInput={setPassphrase}
          autocomplete="current-password"
          name="password"
          required
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <Message outcome={outcome} />
    </main>
  );
}

function App() {
  const [state, setState] = useState<NodeState | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [path, setPath] = useState(currentPath());

  const refresh = async () => {
    try {
      const s = await nodeState();
      setState(s);
      const current = s === 'Operational' ? await currentSession() : null;
      useSession(current, () => setSession(null));
      setSession(current);
      setError(null);
    } catch (e) {
      setError(describe(e));
    }
  };

  useEffect(() => {
    refresh();
    const onHash = () => setPath(currentPath());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    const title = PAGES.find((p) => p.path === path)?.title;
    document.title = session && title ? `${title} · Strongroom` : 'Strongroom console';
  }, [path, session]);

  if (error) {
    return (
      <main id="main" class="narrow">
        <h1>Strongroom console</h1>
        <p role="alert" class="error">
          The appliance did not answer: {error}
        </p>
        <button type="button" onClick={refresh}>
          Try again
        </button>
      </main>
    );
  }
  if (state === null) {
    return (
      <main id="main" class="narrow">
        <h1>Strongroom console</h1>
        <p role="status">Loading…</p>
      </main>
    );
  }
  if (state === 'Unprovisioned') {
    return (
      <main id="main" class="narrow">
        <h1>Strongroom is not provisioned</h1>
        <p>Provision the node first (strongroom provision, or NetHSM’s POST /api/v1/provision).</p>
      </main>
    );
  }
  if (state === 'Locked') return <Unlock onUnlocked={refresh} />;
  if (!session) {
    return (
      <SignIn
        onSignedIn={(s) => {
          useSession(s, () => setSession(null));
          setSession(s);
        }}
      />
    );
  }

  const current = PAGES.find((p) => p.path === path) ?? PAGES[0];
  const Page = current.page;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <p class="brand">Strongroom</p>
        <nav aria-label="Console pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={p.path === path ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            {session.userId} ({session.role})
          </span>
          <button
            type="button"
            onClick={async () => {
              try {
                await signOut();
              } finally {
                useSession(null, () => {});
                setSession(null);
              }
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <h1>{current.title}</h1>
        <Page
          session={session}
          onLocked={() => {
            useSession(null, () => {});
            setSession(null);
            setState('Locked');
          }}
        />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
